import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The built page, read once at start: index.html for `/`, hashed assets cached for a year,
 * nothing outside the folder (no path is taken from the request but a name in this map).
 */
export class StaticFiles {
  private readonly files = new Map<string, { body: Buffer; type: string }>();

  constructor(readonly dir: string) {
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const full = path.join(d, e.name);
        if (e.isDirectory()) walk(full);
        else this.files.set(`/${path.relative(dir, full).split(path.sep).join('/')}`, { body: fs.readFileSync(full), type: TYPES[path.extname(e.name)] ?? 'application/octet-stream' });
      }
    };
    if (!fs.existsSync(path.join(dir, 'index.html'))) throw new Error(`the console page is not built: ${path.join(dir, 'index.html')} is missing (run nx run console:build)`);
    walk(dir);
  }

  /** True if it answered. */
  serve(pathname: string, res: ServerResponse): boolean {
    const name = pathname === '/' ? '/index.html' : pathname;
    const f = this.files.get(name);
    if (!f) return false;
    const immutable = name.startsWith('/assets/');
    res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length, 'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' });
    res.end(f.body);
    return true;
  }
}
