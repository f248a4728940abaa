import { describe, expect, it } from "vitest";
import { isTransactionPooler, readUrlParameters } from "../../../src/db/url-parameters.ts";
import { isLambicError } from "../../../src/errors.ts";

const read = (query: string) => readUrlParameters(new URLSearchParams(query), "postgres://u:***@h/db");

function refusal(query: string): Error {
  let error: unknown;
  try {
    read(query);
  } catch (caught) {
    error = caught;
  }
  expect(isLambicError(error, "CONNECTION_FAILED"), `${query}: ${String(error)}`).toBe(true);
  return error as Error;
}

describe("a database URL's TLS parameters", () => {
  it("try TLS and fall back to a plain connection without sslmode, as libpq's default prefer does", () => {
    expect(read("").tls).toEqual({ mode: "prefer", direct: false });
  });

  it("take each of libpq's sslmode values", () => {
    for (const mode of ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]) expect(read(`sslmode=${mode}`).tls.mode).toBe(mode);
  });

  it("refuse an sslmode libpq does not know, listing the ones it does", () => {
    expect(refusal("sslmode=requre").message).toBe(
      "The database URL postgres://u:***@h/db has sslmode=requre. sslmode is one of disable, allow, prefer, require, verify-ca, verify-full (as libpq reads it).",
    );
  });

  it("check the chain when sslmode=require comes with sslrootcert, as libpq does", () => {
    expect(read("sslmode=require&sslrootcert=/ca.pem").tls).toEqual({ mode: "verify-ca", rootCert: "/ca.pem", direct: false });
  });

  it("check the host name against the system's authorities with sslrootcert=system, and refuse a weaker sslmode with it", () => {
    expect(read("sslrootcert=system").tls.mode).toBe("verify-full");
    expect(refusal("sslmode=require&sslrootcert=system").message).toMatch(/sslmode=require with sslrootcert=system.*use sslmode=verify-full/);
  });

  it("need both sslcert and sslkey, over a connection that must be TLS", () => {
    expect(read("sslmode=require&sslcert=/c.pem&sslkey=/k.pem").tls).toEqual({ mode: "require", cert: "/c.pem", key: "/k.pem", direct: false });
    expect(refusal("sslmode=require&sslcert=/c.pem").message).toMatch(/has sslcert without sslkey/);
    expect(refusal("sslmode=require&sslkey=/k.pem").message).toMatch(/has sslkey without sslcert/);
    expect(refusal("sslcert=/c.pem&sslkey=/k.pem").message).toMatch(/client certificate \(sslcert\) with sslmode=prefer.*sslmode=require or stricter/);
  });

  it("take sslnegotiation=direct only with an sslmode that cannot fall back to plain", () => {
    expect(read("sslmode=require&sslnegotiation=direct").tls.direct).toBe(true);
    expect(refusal("sslnegotiation=direct").message).toMatch(/sslnegotiation=direct with sslmode=prefer/);
    expect(refusal("sslmode=require&sslnegotiation=fast").message).toMatch(/sslnegotiation is postgres \(the default\) or direct/);
  });

  it("refuse node-postgres's ssl=true, pointing at sslmode", () => {
    expect(refusal("ssl=true").message).toMatch(/ssl=true, a node-postgres parameter lambic does not read\. Use libpq's sslmode: sslmode=require/);
  });
});

describe("a database URL's other parameters", () => {
  it("take host, port, user, password and dbname over the URL's own parts", () => {
    expect(read("host=/var/run/postgresql&port=5433&user=app&password=&dbname=shop")).toMatchObject({ host: "/var/run/postgresql", port: 5433, user: "app", password: "", database: "shop" });
    expect(refusal("port=99999").message).toMatch(/port=99999\. The port is a number from 1 to 65535/);
  });

  it("take connect_timeout in whole seconds", () => {
    expect(read("connect_timeout=3").connectTimeoutSeconds).toBe(3);
    for (const value of ["0", "-1", "2.5", "abc"]) expect(refusal(`connect_timeout=${value}`).message).toMatch(/connect_timeout is a whole number of seconds from 1 to 3600/);
  });

  it("take target_session_attrs that a server running migrations satisfies, and refuse those it cannot", () => {
    for (const value of ["any", "read-write", "primary", "prefer-standby"]) expect(read(`target_session_attrs=${value}`).serverSettings).toEqual([]);
    expect(refusal("target_session_attrs=read-only").message).toMatch(/Migrations change the database/);
    expect(refusal("target_session_attrs=standby").message).toMatch(/Migrations change the database/);
    expect(refusal("target_session_attrs=bogus").message).toMatch(/target_session_attrs is one of any, read-write, primary, prefer-standby/);
  });

  it("take client_encoding=UTF8 and refuse another encoding, which would garble text both ways", () => {
    expect(read("client_encoding=UTF8").serverSettings).toEqual([]);
    expect(read("client_encoding=utf-8").serverSettings).toEqual([]);
    expect(refusal("client_encoding=LATIN1").message).toMatch(/client_encoding=LATIN1.*would garble every non-ASCII character/);
  });

  it("pass the rest to the server as settings, by name", () => {
    expect(read("application_name=deploy&options=-c%20search_path%3Dapp&sslmode=disable&statement_timeout=5000").serverSettings).toEqual(["application_name", "options", "statement_timeout"]);
  });

  it("refuse a parameter given twice", () => {
    expect(refusal("sslmode=disable&sslmode=require").message).toMatch(/gives the parameter sslmode twice/);
  });

  it("refuse a parameter without a name", () => {
    expect(refusal("=x").message).toMatch(/has a parameter without a name \("=value" after \? or &\)\. Write name=value, or remove it\./);
  });

  it("refuse an empty value", () => {
    expect(refusal("sslmode=").message).toMatch(/has an empty sslmode parameter/);
  });

  it("refuse postgres.js's pool options, which are not server settings", () => {
    for (const name of ["max", "idle_timeout", "debug", "prepare"]) expect(refusal(`${name}=1`).message).toMatch(new RegExp(`${name}=1, a postgres.js pool option, not a server setting`));
  });

  it("refuse libpq parameters neither driver implements", () => {
    for (const name of ["keepalives", "gssencmode", "service", "sslcrl", "hostaddr"]) expect(refusal(`${name}=1`).message).toMatch(new RegExp(`libpq's ${name} parameter, which lambic's drivers do not implement`));
  });
});

describe("a transaction pooler, where session locks do not hold", () => {
  it("is a Neon -pooler host, in any case", () => {
    expect(isTransactionPooler("ep-quiet-tree-123456-pooler.eu-central-1.aws.neon.tech", 5432)).toBe(true);
    expect(isTransactionPooler("EP-QUIET-TREE-123456-POOLER.eu-central-1.aws.NEON.TECH", 5432)).toBe(true);
    expect(isTransactionPooler("ep-quiet-tree-123456.eu-central-1.aws.neon.tech", 5432)).toBe(false);
  });

  it("is Supabase's pooler or dedicated pooler on port 6543 (transaction mode), not on 5432 (session mode)", () => {
    expect(isTransactionPooler("aws-0-eu-central-1.pooler.supabase.com", 6543)).toBe(true);
    expect(isTransactionPooler("db.abcdefghijklmnop.supabase.co", 6543)).toBe(true);
    expect(isTransactionPooler("aws-0-eu-central-1.pooler.supabase.com", 5432)).toBe(false);
    expect(isTransactionPooler("db.abcdefghijklmnop.supabase.co", 5432)).toBe(false);
    expect(isTransactionPooler("supabase.com.example.org", 6543)).toBe(false);
  });
});
