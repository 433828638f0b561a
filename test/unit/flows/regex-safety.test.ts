import { checkRegexSafety } from '../../../src/flows/regex-safety';

describe('checkRegexSafety', () => {
  it.each([
    ['(a+)+$', /nested quantifiers/],
    ['(a*)*b', /empty string|nested/],
    ['([a-zA-Z]+)*', /nested quantifiers/],
    ['(\\w+\\s?)*$', /nested quantifiers/],
    ['(x+x+)+y', /nested quantifiers/],
    ['(.*a){10}', /nested quantifiers/],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', /nested quantifiers/],
    ['(a{1,3})+', /nested quantifiers/],
    ['([a-z]{1,10}){1,5}', /too many ways/],
    ['(a|aa)+', /ambiguous alternation.*'a' and 'aa'/],
    ['(a|b|ab)*c', /ambiguous alternation/],
    ['(\\w|\\d)+', /ambiguous alternation.*same character/],
    ['^(a|a?)+$', /empty string/],
    ['(a|)+', /empty string/],
    ['\\d+\\d+', /adjacent unbounded/],
    ['.*.*=.*', /adjacent unbounded/],
    ['^\\w+\\s*\\w+$', /adjacent unbounded/],
    ['(a)\\1', /backreferences/],
    ['(?<word>a)\\k<word>', /backreferences/],
    ['a{5000}', /repetition count/],
    ['[unclosed', /invalid regular expression/],
  ])('refuses %s', (pattern, reason) => {
    const verdict = checkRegexSafety(pattern);
    expect(verdict.safe).toBe(false);
    expect(verdict.safe === false && verdict.reason).toMatch(reason);
  });

  it('refuses over-long patterns, with a configurable limit', () => {
    expect(checkRegexSafety('a'.repeat(257))).toEqual({
      safe: false,
      reason: 'pattern is longer than 256 characters',
    });
    expect(checkRegexSafety('a'.repeat(20), { maxLength: 10 }).safe).toBe(false);
    expect(checkRegexSafety('a'.repeat(256)).safe).toBe(true);
  });

  it.each([
    '^foo',
    '^[A-Z]{2}-\\d{4}$',
    '(foo|bar)+',
    '(ab|ac)+',
    '(\\d{1,3}\\.){3}\\d{1,3}',
    '.*@example\\.com$',
    '^(?:https?://)?(www\\.)?example\\.com',
    '^[^@]+@[^@]+$',
    'gold|silver|platinum',
    '\\bVIP\\b',
    '(?:a|b)+c',
    '[\\d-x]+',
    '^\\+1\\d{10}$',
    'a{2}b{0,3}',
    '(?=.*\\d)^\\w{3}$',
  ])('accepts %s', (pattern) => {
    expect(checkRegexSafety(pattern)).toEqual({ safe: true });
  });

  it('accepts nothing that V8 itself rejects', () => {
    expect(checkRegexSafety('(?<=a+)+').safe).toBe(false);
    expect(checkRegexSafety('*a').safe).toBe(false);
  });
});
