/**
 * PostgreSQL's ISO text for date, timestamp and timestamptz read as Dates, the same through either
 * driver and whatever the process's time zone: a date is UTC midnight and a timestamp without time
 * zone its wall-clock time in UTC (as a Date parameter is written, see parameters.ts, so that a
 * value read and written back is unchanged; read in local time, one in a DST gap would move an
 * hour). BC years and years past 9999 are read too (postgres.js made Invalid Dates of them, and
 * took a date past 9999 for local time); ±infinity are the numbers ±Infinity, as node-postgres
 * reads them (no Date can hold them).
 */
const DATE_TIME = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?)?( BC)?$/;

export function parseDateTime(text: string): Date | number {
  if (text === "infinity") return Infinity;
  if (text === "-infinity") return -Infinity;
  const parts = DATE_TIME.exec(text);
  // Not ISO (another DateStyle): what Date makes of it.
  if (!parts) return new Date(text);
  const [, year, month, day, hours = "0", minutes = "0", seconds = "0", fraction = "", sign, offsetHours = "0", offsetMinutes = "0", offsetSeconds = "0", bc] = parts;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC, which takes years 0-99 for 1900-1999; 1 BC is year 0.
  date.setUTCFullYear(bc ? 1 - Number(year) : Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hours), Number(minutes), Number(seconds), Number(fraction.padEnd(3, "0").slice(0, 3)));
  if (sign) {
    const offset = (Number(offsetHours) * 3600 + Number(offsetMinutes) * 60 + Number(offsetSeconds)) * 1000;
    date.setTime(date.getTime() - (sign === "-" ? -offset : offset));
  }
  return date;
}
