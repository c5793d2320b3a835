#!/usr/bin/env node
// Fails when a symbol exported from a package entry point has no doc comment.
//
// The entry points come from each workspace package's `exports` map (`./dist/x/index.d.ts` is
// built from `src/x/index.ts`), so a new subpath export is checked without touching this script.
// A re-exported symbol is judged by its declaration, where the comment belongs.
//
// Usage: node scripts/check-docs.mjs [--list]   (--list also prints every symbol it checked)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packageFolders = ['packages', 'packages/adapters'];

/** Every workspace package under `packages/` with a name and an `exports` map. */
function workspacePackages() {
  const found = [];
  for (const folder of packageFolders) {
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      const manifest = join(root, folder, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
      if (pkg.exports) found.push({ dir: join(root, folder, entry.name), pkg });
    }
  }
  return found;
}

/** The source file behind one `exports` entry: `./dist/a/index.d.ts` → `src/a/index.ts`. */
function sourceOfExport(dir, subpath, target) {
  const types = target?.import?.types ?? target?.types;
  const match = typeof types === 'string' ? /^\.\/dist\/(.+)\.d\.ts$/.exec(types) : null;
  if (!match) throw new Error(`${subpath}: cannot tell the source of an export without ./dist/*.d.ts types`);
  const source = join(dir, 'src', `${match[1]}.ts`);
  if (!existsSync(source)) throw new Error(`${subpath}: ${relative(root, source)} does not exist`);
  return source;
}

/** `{ name: '@ordo/orders/postgres', file }` for every entry point of every package. */
function entryPoints() {
  return workspacePackages().flatMap(({ dir, pkg }) =>
    Object.entries(pkg.exports)
      // `./package.json` is metadata, not code.
      .filter(([subpath]) => !subpath.endsWith('.json'))
      .map(([subpath, target]) => ({
      name: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, '')}`,
      file: sourceOfExport(dir, subpath, target),
    })),
  );
}

/** The root tsconfig's compiler options, so `@ordo/*` imports resolve to sources. */
function compilerOptions() {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, root).options;
}

/**
 * True when a declaration carries a `/** … *\/` comment with text in it. A comment followed by a
 * blank line is about the file, not the declaration below it, though TypeScript attaches it there.
 */
function hasDocComment(declaration) {
  return ts.getJSDocCommentsAndTags(declaration).some((doc) => {
    if (!ts.isJSDoc(doc) || isDetached(doc)) return false;
    const text = typeof doc.comment === 'string' ? doc.comment : ts.getTextOfJSDocComment(doc.comment);
    return Boolean(text?.trim()) || (doc.tags ?? []).some((tag) => ts.getTextOfJSDocComment(tag.comment)?.trim());
  });
}

/** True when a blank line separates a doc comment from the code it precedes. */
function isDetached(doc) {
  const file = doc.getSourceFile();
  const between = file.text.slice(doc.end, doc.parent.getStart(file));
  return /\n[ \t]*\r?\n/.test(between);
}

/** The exported symbols of one entry point, each with its declarations. */
function exportsOf(checker, sourceFile) {
  const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
  if (!moduleSymbol) return [];
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return { name: symbol.getName(), declarations: target.getDeclarations() ?? [] };
  });
}

/** Where a declaration starts, as `path:line` from the repository root. */
function location(declaration) {
  const file = declaration.getSourceFile();
  const { line } = file.getLineAndCharacterOfPosition(declaration.getStart(file));
  return `${relative(root, file.fileName)}:${line + 1}`;
}

function main() {
  const list = process.argv.includes('--list');
  const entries = entryPoints();
  const program = ts.createProgram({ rootNames: entries.map((e) => e.file), options: compilerOptions() });
  const checker = program.getTypeChecker();
  const missing = [];
  let checked = 0;
  for (const entry of entries) {
    const sourceFile = program.getSourceFile(entry.file);
    if (!sourceFile) throw new Error(`${entry.name}: ${relative(root, entry.file)} was not loaded`);
    for (const symbol of exportsOf(checker, sourceFile)) {
      checked += 1;
      const documented = symbol.declarations.some(hasDocComment);
      if (list) console.log(`${documented ? 'ok     ' : 'MISSING'} ${entry.name}: ${symbol.name}`);
      if (!documented) missing.push(`${entry.name}: ${symbol.name} (${symbol.declarations.map(location).join(', ')})`);
    }
  }
  if (missing.length > 0) {
    console.error(`${missing.length} of ${checked} exported symbols have no doc comment:`);
    for (const line of missing) console.error(`  ${line}`);
    process.exit(1);
  }
  console.log(`check-docs: all ${checked} exported symbols of ${entries.length} entry points are documented`);
}

main();
