import tseslint from 'typescript-eslint';
import gatehouse from './tools/eslint-rules/module-boundaries.mjs';

/**
 * Architecture rules (DESIGN.md §1). Tags live in each project.json.
 * scope:<svc> projects may use only their own scope and scope:shared; type:* says what may
 * depend on what. Apps never import apps (checked by the rule itself as well).
 */
export const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:kit', 'type:testing'] },
  { sourceTag: 'type:kit', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:kit'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:kit', 'type:testing'] },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'] },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:kit', 'type:testing'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:kit', 'type:testing'] },
  { sourceTag: 'scope:identity', onlyDependOnLibsWithTags: ['scope:identity', 'scope:shared'] },
  { sourceTag: 'scope:allowlist', onlyDependOnLibsWithTags: ['scope:allowlist', 'scope:shared'] },
  { sourceTag: 'scope:secrets', onlyDependOnLibsWithTags: ['scope:secrets', 'scope:shared'] },
  { sourceTag: 'scope:impersonation', onlyDependOnLibsWithTags: ['scope:impersonation', 'scope:shared'] },
  { sourceTag: 'scope:audit', onlyDependOnLibsWithTags: ['scope:audit', 'scope:shared'] },
  { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared'] },
  { sourceTag: 'scope:console', onlyDependOnLibsWithTags: ['scope:console', 'scope:shared'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
];

/** What domain code may never import: gRPC, database drivers, transports, generated contracts. */
export const domainForbidden = [
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  'grpc-health-check',
  'mongodb',
  'better-sqlite3',
  '@gatehouse/contracts',
  '@gatehouse/service-kit',
  '@gatehouse/storage',
  'node:net',
  'node:http',
  'node:http2',
  'node:https',
  'node:fs',
  'node:child_process',
  'net',
  'http',
  'http2',
  'https',
  'fs',
  'child_process',
];

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', 'libs/contracts/src/gen/**', '**/test-fixtures/**', '.gatehouse/**'],
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.tsx'],
    extends: [tseslint.configs.recommended],
    plugins: { gatehouse },
    rules: {
      'gatehouse/module-boundaries': [
        'error',
        {
          workspaceRoot: import.meta.dirname,
          depConstraints,
          domainForbidden,
          domainForbiddenRelative: ['rpc', 'store'],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
);
