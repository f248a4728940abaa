/**
 * `import()` of a file URL or an ES-module package, for the modules lambic loads at run time
 * (revision bundles, the embedded server's binaries package). The command line runs as a
 * CommonJS script with V8's code cache (cli/index.ts), where Node 20 cannot run `import()`
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING); its loader, a module file of its own, lends its own
 * under IMPORT_HOOK. Everywhere else this is `import()` itself.
 */
export const IMPORT_HOOK = Symbol.for("lambic.importModule");

export function importModule<T>(specifier: string): Promise<T> {
  const lent = (globalThis as { [IMPORT_HOOK]?: (specifier: string) => Promise<unknown> })[IMPORT_HOOK];
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}
