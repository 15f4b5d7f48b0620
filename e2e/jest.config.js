/**
 * End-to-end tests: a real kube-apiserver and the real Flux controllers (see e2e/cluster).
 * Needs the binaries of `bash e2e/build/build.sh`. Run: npx jest -c e2e/jest.config.js
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/*.e2e.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/../tsconfig.json' }],
    // @kubernetes/client-node 1.x and its openid-client/oauth4webapi/jose are ESM-only; jest's
    // CommonJS runtime needs them transpiled (cached by jest after the first run).
    '^.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', esModuleInterop: true, isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  // One cluster per test file; everything inside is bounded by its own timeouts.
  testTimeout: 15 * 60 * 1000,
  maxWorkers: 1,
};
