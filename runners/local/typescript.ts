import fs from "node:fs";
import Module from "node:module";
import ts from "typescript";

/**
 * Lets `require` load TypeScript files (pipeline specs and stage modules written by users):
 * each `.ts` file is transpiled to CommonJS on load with TypeScript's own `transpileModule`,
 * types erased, no type checking. Idempotent. Sluice's own code is compiled ahead with tsc;
 * this is only for user files, which need no decorator metadata.
 */
export function registerTypeScript(): void {
  const extensions = (Module as unknown as { _extensions: Record<string, (m: NodeModule, filename: string) => void> })._extensions;
  if (extensions[".ts"]) return;
  const compile = (m: NodeModule, filename: string) => {
    const outputText = transpileTypeScript(fs.readFileSync(filename, "utf8"), filename);
    (m as unknown as { _compile(code: string, filename: string): void })._compile(outputText, filename);
  };
  extensions[".ts"] = compile;
  extensions[".mts"] = compile;
  extensions[".cts"] = compile;
}

/** One TypeScript file as the CommonJS JavaScript `registerTypeScript` runs (types erased, inline source map). */
export function transpileTypeScript(source: string, fileName: string): string {
  return ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: true,
    },
  }).outputText;
}
