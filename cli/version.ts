import packageJson from "../package.json" with { type: "json" };

/** lambic's version, from its package.json (the bundler inlines it). */
export const VERSION: string = packageJson.version;
