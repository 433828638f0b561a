import * as errors from '../../src/errors';

const classes = Object.entries(errors as Record<string, unknown>)
  .filter(
    ([, value]) => typeof value === 'function' && value.prototype instanceof errors.FlowhookError,
  )
  .map(([name, value]) => [name, value as { code?: unknown }] as const);

describe('error codes', () => {
  it('every error class has a static FLOWHOOK_ERR_* code, one per class', () => {
    expect(classes.length).toBeGreaterThan(10);
    for (const [name, cls] of classes) {
      expect([name, cls.code]).toEqual([name, expect.stringMatching(/^FLOWHOOK_ERR_[A-Z_]+$/)]);
    }
    expect(new Set(classes.map(([, cls]) => cls.code)).size).toBe(classes.length);
  });

  it('an instance carries its class code', () => {
    expect(new errors.TopicSchemaError('x').code).toBe(errors.TopicSchemaError.code);
    expect(new errors.ConfigError([]).code).toBe(errors.ConfigError.code);
    expect(new errors.EventDecodeError('empty', 'x').code).toBe(errors.EventDecodeError.code);
  });
});
