// Two projects: pure unit tests run without a broker; integration tests share one real
// Kafka broker started by test/setup/global-setup.ts (KAFKA_BROKERS, testcontainers or jars).
// ts-jest transpiles file by file (tsconfig has isolatedModules); `npm run lint` type-checks.
const transform = { '^.+\\.ts$': ['ts-jest', {}] };

module.exports = {
  // Integration tests wait on a real broker (group joins, transactions); unit tests finish fast.
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/test/setup/preload-kafkajs.js'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
