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
