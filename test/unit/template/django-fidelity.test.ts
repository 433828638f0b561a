import { parseJsonKeepingOrder } from '../../../src/json-order';
import { renderHeader, compileTemplate } from '../../../src/template';
import { makeInput } from './helpers';

// Expected values are Django 5.2's output (autoescape off), checked by hand with
// `Template(src).render(Context({'event': ...}))` and `django.utils.html.strip_tags`.

const EVENT_TEXT =
  '{"d": {"b": 1, "10": 2, "2": 3, "a": 4}, "s": "abc", "n": 5, "l": [1, "a", [2]], "m": {"1": "one", "x": "y"}}';
const event = parseJsonKeepingOrder(EVENT_TEXT) as Record<string, never>;
const render = (source: string, input = makeInput({ event })): string =>
  renderHeader(compileTemplate(source, 'header'), input);

describe('Django fidelity: membership between incompatible types', () => {
  const both = (a: string, b: string): string =>
    render(
      `{% if ${a} in ${b} %}T{% else %}F{% endif %}{% if ${a} not in ${b} %}T{% else %}F{% endif %}`,
    );
  // [item, container, `in` then `not in`]: Django's TypeError makes both false ("FF").
  it.each([
    ['1', 'event.s', 'FF'],
    ["'a'", 'event.s', 'TF'],
    ['event.l', 'event.s', 'FF'],
    ['1', 'event.m', 'FT'],
    ["'1'", 'event.m', 'TF'],
    ['event.l', 'event.m', 'FF'],
    ['event.d', 'event.m', 'FF'],
    ["'a'", 'event.n', 'FF'],
    ['1', 'event.l', 'TF'],
    ["'b'", 'event.l', 'FT'],
    ['event.missing', 'event.s', 'FF'],
    ['event.missing', 'event.l', 'FT'],
    ['event.missing', 'event.m', 'FT'],
    ["'x'", 'event.missing', 'FF'],
  ])('%s in %s → %s', (a, b, expected) => {
    expect(both(a, b)).toBe(expected);
  });
});

describe("Django fidelity: dictionaries iterate in the document's order", () => {
  it.each([
    ['{% for k in event.d %}{{ k }},{% endfor %}', 'b,10,2,a,'],
    ['{% for k, v in event.d.items %}{{ k }}={{ v }};{% endfor %}', 'b=1;10=2;2=3;a=4;'],
    ["{{ event.d.keys|join:',' }}", 'b,10,2,a'],
    ["{{ event.d.values|join:',' }}", '1,2,3,4'],
    ["{{ event.d|join:',' }}", 'b,10,2,a'],
    ['{% for v in event.d.values %}{{ v }}{% endfor %}', '1234'],
  ])('%s → %s', (source, expected) => {
    expect(render(source)).toBe(expected);
  });

  it('keeps the order of custom profile properties in person', () => {
    const properties = parseJsonKeepingOrder('{"z": 1, "7": 2, "3": 3}') as Record<string, never>;
    const input = makeInput({ event, profile: { email: 'a@b.c', properties } });
    expect(render('{% for k in person %}{{ k }},{% endfor %}', input)).toMatch(/^z,7,3,/);
  });

  it('parses like JSON.parse otherwise', () => {
    const text = '{"x": [1, {"2": "b", "1": "a"}, "s\\"q"], "__proto__": {"10": 1}, "n": -1.5e3}';
    const ordered = parseJsonKeepingOrder(text);
    expect(JSON.stringify(ordered)).toBe(JSON.stringify(JSON.parse(text)));
    expect(Object.getPrototypeOf(ordered)).toBe(Object.prototype);
  });
});

describe("Django fidelity: date's named formats", () => {
  const input = makeInput({ event: { t: '2024-05-01T15:04:05Z' } });
  it.each([
    ['DATE_FORMAT', 'May 1, 2024'],
    ['DATETIME_FORMAT', 'May 1, 2024, 3:04 p.m.'],
    ['TIME_FORMAT', '3:04 p.m.'],
    ['YEAR_MONTH_FORMAT', 'May 2024'],
    ['MONTH_DAY_FORMAT', 'May 1'],
    ['SHORT_DATE_FORMAT', '05/01/2024'],
    ['SHORT_DATETIME_FORMAT', '05/01/2024 3:04 p.m.'],
  ])('%s → %s', (name, expected) => {
    expect(render(`{{ event.t|date:'${name}' }}`, input)).toBe(expected);
  });
});

describe('Django fidelity: striptags on nested and malformed markup', () => {
  it.each([
    ['<b>bold</b> text', 'bold text'],
    ['<<b>b>hi</b>', 'hi'],
    ['<sc<script>ript>alert(1)</script>', 'ript>alert(1)'],
    ['<p>a<br/>b</p> &amp; <!-- c --> d', 'ab &amp;  d'],
    ['<a href="x>y">t</a>', 't'],
    ['<div><p>x</div>', 'x'],
    ['a < b and c > d', 'a < b and c > d'],
    ['<script>var a = "<b>";</script>after', 'var a = "";after'],
    ['<style>p{}</style>kept', 'p{}kept'],
    ['<<<b>>>x<</b>', '<<>>x<'],
    ['x<y>z', 'xz'],
    ['1 <2> 3', '1 <2> 3'],
    ['&#39;q&#39; &amp &nbsp;', '&#39;q&#39; &amp &nbsp;'],
    ['<!doctype html><p>x</p>', 'x'],
    ['<?xml v?>x', 'x'],
    ['</>x</ b>y', 'xy'],
  ])('%j → %j', (html, expected) => {
    expect(render('{{ event.html|striptags }}', makeInput({ event: { html } }))).toBe(expected);
  });
});
