/**
 * Passwords out of text that is printed or logged: database URLs' and libpq's `password=`. Kept
 * apart from the drivers, so that the Lambda's entry can redact what it answers and logs without
 * loading them at cold start.
 */

/**
 * The URL with its password (and any `password=` parameter) replaced by `***`. Worked on the
 * text, not a parse: a password holding an unencoded "#", "/" or "?" still makes a valid URL,
 * with the password taken for a fragment or a path, which a parse would leave in place.
 */
export function redactUrl(url: string): string {
  const scheme = url.indexOf("://");
  // Not a URL at all: it may be a password pasted into the wrong variable, or "user:pw@host".
  if (scheme === -1) return `(a value without "://", ${url.length} characters, not shown)`;
  const at = url.lastIndexOf("@");
  let redacted = url;
  if (scheme !== -1 && at > scheme) {
    const userinfo = url.slice(scheme + 3, at);
    const colon = userinfo.indexOf(":");
    if (colon !== -1) redacted = `${url.slice(0, scheme + 3)}${userinfo.slice(0, colon + 1)}***${url.slice(at)}`;
  } else {
    // No "@": a "port" that is no port number is likely a password whose "@host" is missing
    // (postgres://app:s3cret/db).
    const port = portOf(url.slice(scheme + 3));
    if (port !== undefined && port !== "" && !isPortNumber(port)) {
      const portStart = scheme + 3 + /^[^/?#]*/.exec(url.slice(scheme + 3))![0].length - port.length;
      redacted = `${url.slice(0, portStart)}***${url.slice(portStart + port.length)}`;
    }
  }
  return redacted.replace(/(password=)[^&\s#]*/gi, "$1***");
}

/** A postgres:// URL in free text (JSON or a log line), up to a quote, a backslash or a space. */
const DATABASE_URL_IN_TEXT = /postgres(?:ql)?:\/\/[^\s'"\\`<>]+/gi;
/** libpq's keyword form (host=h password=secret), as a connection string or a URL parameter. */
const PASSWORD_KEYWORD = /\b(password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&'"\\]+)/gi;

/** The text with every database URL's password, and every password=..., replaced by ***. */
export function redactSecrets(text: string): string {
  return text.replace(DATABASE_URL_IN_TEXT, (url) => redactUrl(url)).replace(PASSWORD_KEYWORD, "$1***");
}

/** The port of "host:port/…" as written (undefined without one). */
export function portOf(text: string): string | undefined {
  const hostAndPort = /^[^/?#]*/.exec(text)![0];
  return /^(?:\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(hostAndPort)?.[1];
}

export function isPortNumber(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}
