// @ts-check
/**
 * Builds the unpacked extensions `dist/chromium/` and `dist/firefox/` from `src/`; with
 * `--package` also `dist/geid-chromium-<version>.zip` and `dist/geid-firefox-<version>.xpi`.
 * No bundler: the sources are ES modules the browsers load as they are.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifestFor } from './manifest.js';
import { makeZip } from './zip.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** @param {string} dir @returns {string[]} */
function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}

/**
 * @param {'chromium' | 'firefox'} target
 * @returns {string} the unpacked directory
 */
export function build(target) {
  const out = join(root, 'dist', target);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(join(root, 'src'), out, { recursive: true });
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifestFor(target, version), null, 2)}\n`);
  return out;
}

/**
 * @param {string} dir
 * @param {string} file
 */
function pack(dir, file) {
  const files = listFiles(dir).map((path) => ({ name: relative(dir, path).split(sep).join('/'), data: readFileSync(path) }));
  writeFileSync(file, makeZip(files));
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const packaging = process.argv.includes('--package');
  for (const target of /** @type {const} */ (['chromium', 'firefox'])) {
    const dir = build(target);
    console.log(`built ${relative(root, dir)}`);
    if (packaging) {
      const file = pack(dir, join(root, 'dist', `geid-${target}-${version}.${target === 'firefox' ? 'xpi' : 'zip'}`));
      console.log(`packed ${relative(root, file)}`);
    }
  }
}
