import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import gatehouse from './module-boundaries.mjs';
import { depConstraints, domainForbidden } from '../../eslint.config.mjs';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtureRoot = path.join(import.meta.dirname, 'test-fixtures/ws');

/** ESLint with only our rule, over the fixture workspace (apps alpha/beta, libs kit/core). */
function fixtureLinter(): ESLint {
  return new ESLint({
    cwd: fixtureRoot,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser as never },
        plugins: { gatehouse: gatehouse as never },
        rules: {
          'gatehouse/module-boundaries': [
            'error',
            { workspaceRoot: fixtureRoot, depConstraints, domainForbidden, domainForbiddenRelative: ['rpc', 'store'] },
          ],
        },
      },
    ],
  });
}

async function messages(linter: ESLint, file: string, code: string): Promise<string[]> {
  const [result] = await linter.lintText(code, { filePath: file });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('gatehouse/module-boundaries', () => {
  const lint = fixtureLinter();
  const alphaDomain = path.join(fixtureRoot, 'apps/alpha/src/domain/grant.ts');

  test('domain code importing @grpc/grpc-js fails', async () => {
    const m = await messages(lint, alphaDomain, "import * as grpc from '@grpc/grpc-js';\nexport const x = grpc;\n");
    assert.equal(m.length, 1);
    assert.match(m[0] ?? '', /Domain code imports no gRPC, driver or transport: "@grpc\/grpc-js"/);
  });

  test('domain code importing a driver or its own rpc/store layer fails', async () => {
    assert.equal((await messages(lint, alphaDomain, "import { MongoClient } from 'mongodb';\nexport { MongoClient };\n")).length, 1);
    assert.equal((await messages(lint, alphaDomain, "import Database from 'better-sqlite3';\nexport { Database };\n")).length, 1);
    assert.equal((await messages(lint, alphaDomain, "export { h } from '../rpc/handlers.js';\n")).length, 1);
    assert.equal((await messages(lint, alphaDomain, "export { s } from '../store/sqlite.js';\n")).length, 1);
  });

  test('domain code may import core libs and its own domain files', async () => {
    assert.deepEqual(await messages(lint, alphaDomain, "import { x } from '@fx/core';\nimport { y } from './other.js';\nexport { x, y };\n"), []);
  });

  test('an app importing another app fails', async () => {
    const m = await messages(lint, path.join(fixtureRoot, 'apps/alpha/src/main.ts'), "import { b } from '@fx/beta';\nexport { b };\n");
    assert.match(m.join(), /Apps never import apps: "alpha" imports app "beta"/);
  });

  test('a core lib importing a kit lib violates depConstraints', async () => {
    const m = await messages(lint, path.join(fixtureRoot, 'libs/core/src/index.ts'), "import { k } from '@fx/kit';\nexport { k };\n");
    assert.match(m.join(), /Project "core" \(scope:shared, type:core\) may not import "kit"/);
  });

  test('deep relative imports into another project fail', async () => {
    const m = await messages(lint, path.join(fixtureRoot, 'apps/alpha/src/main.ts'), "import { k } from '../../../libs/kit/src/index.js';\nexport { k };\n");
    assert.match(m.join(), /through its package entry point "@fx\/kit"/);
  });

  test("the repository's own eslint.config.mjs rejects a domain file importing @grpc/grpc-js", async () => {
    const repoLint = new ESLint({ cwd: repoRoot });
    const file = path.join(repoRoot, 'apps/identity/src/domain/lint-probe.ts');
    const [result] = await repoLint.lintText("import * as grpc from '@grpc/grpc-js';\nexport const probe = grpc;\n", { filePath: file });
    const ids = (result?.messages ?? []).map((m) => m.ruleId);
    assert.ok(ids.includes('gatehouse/module-boundaries'), `expected a boundary error, got ${JSON.stringify(result?.messages)}`);
  });
});
