/**
 * PostgreSQL's text form of an array (`{a,NULL,"b c"}`, `{{1,2},{3,4}}`, `[0:1]={1,2}`) parsed
 * into nested JS arrays. postgres.js 3.4's own parser reads an unquoted NULL element as the
 * string "NULL" (NaN in a number array), so a data migration reading `text[]` would write the
 * word back; node-postgres (Neon's driver) reads it as null, and so does this.
 */
export function parseArrayLiteral(text: string, parseElement: ((value: string) => unknown) | undefined, delimiter = ","): unknown[] {
  let i = 0;
  // Bounds other than 1 come first ("[0:1]={...}"); like node-postgres, the bounds are dropped.
  if (text[0] === "[") {
    const eq = text.indexOf("=");
    if (eq > 0) i = eq + 1;
  }
  const parseLevel = (): unknown[] => {
    const items: unknown[] = [];
    i++; // "{"
    if (text[i] === "}") {
      i++;
      return items;
    }
    for (;;) {
      if (text[i] === "{") {
        items.push(parseLevel());
      } else if (text[i] === '"') {
        let value = "";
        for (i++; i < text.length && text[i] !== '"'; i++) value += text[i] === "\\" ? text[++i] : text[i];
        i++; // closing quote
        items.push(parseElement ? parseElement(value) : value);
      } else {
        const start = i;
        while (i < text.length && text[i] !== delimiter && text[i] !== "}") i++;
        const value = text.slice(start, i);
        items.push(value.toUpperCase() === "NULL" ? null : parseElement ? parseElement(value) : value);
      }
      if (text[i] === delimiter) {
        i++;
        continue;
      }
      i++; // "}"
      return items;
    }
  };
  return parseLevel();
}

/**
 * The arrays read as arrays through either driver: PostgreSQL's built-in array types (their OIDs
 * are fixed, below 10000) and `record[]`, each with its element type. An array of any other type
 * (an enum, a domain, a composite, an extension's type) is PostgreSQL's text: Neon's driver cannot
 * know those types' OIDs without asking the server, and postgres.js knew only those that existed
 * when it connected, not an enum a migration creates.
 */
export const BUILTIN_ARRAYS: Readonly<Record<number, number>> = {
  143: 142, 199: 114, 271: 5069, 629: 628, 651: 650, 719: 718, 775: 774, 791: 790, 1000: 16,
  1001: 17, 1002: 18, 1003: 19, 1005: 21, 1006: 22, 1007: 23, 1008: 24, 1009: 25, 1010: 27,
  1011: 28, 1012: 29, 1013: 30, 1014: 1042, 1015: 1043, 1016: 20, 1017: 600, 1018: 601, 1019: 602,
  1020: 603, 1021: 700, 1022: 701, 1027: 604, 1028: 26, 1034: 1033, 1040: 829, 1041: 869,
  1115: 1114, 1182: 1082, 1183: 1083, 1185: 1184, 1187: 1186, 1231: 1700, 1263: 2275, 1270: 1266,
  1561: 1560, 1563: 1562, 2201: 1790, 2207: 2202, 2208: 2203, 2209: 2204, 2210: 2205, 2211: 2206,
  2287: 2249, 2949: 2970, 2951: 2950, 3221: 3220, 3643: 3614, 3644: 3642, 3645: 3615, 3735: 3734,
  3770: 3769, 3807: 3802, 3905: 3904, 3907: 3906, 3909: 3908, 3911: 3910, 3913: 3912, 3927: 3926,
  4073: 4072, 4090: 4089, 4097: 4096, 4192: 4191, 5039: 5038, 6150: 4451, 6151: 4532, 6152: 4533,
  6153: 4534, 6155: 4535, 6157: 4536,
};

/** Only box[] separates its elements with ";". */
export function arrayDelimiter(array: number): string {
  return array === 1020 ? ";" : ",";
}
