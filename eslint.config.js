// @ts-check
import tseslint from 'typescript-eslint';

/**
 * typescript-eslint's recommended rules, plus the type-aware ones that matter most in a server: a promise
 * nobody awaits loses its error, and a promise where a callback's result is ignored runs unchecked.
 */
export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/.work/', 'bench/better-auth/', 'test/artifacts/', 'src/pages/*.client.js', 'test/fixtures/openapi-client/'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Kysely's guidance: a migration must not depend on today's table types, so it takes `Kysely<any>`.
    files: ['src/**/migrations.ts', 'src/store/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    // Post-challenge actions as operators write them for Auth0: CommonJS modules that `require`.
    files: ['test/fixtures/actions/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
