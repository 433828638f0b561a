// The template conformance table. One row per behaviour: add a row to add a test.
//
// mode (default 'text'): the template is rendered as the content of a JSON string in a body
// ("<template>"), then decoded, so `expected` is the plain text a Django template would print.
// 'body': rendered as a whole body; compare `expected` (exact text) or `expectedJson` (parsed).
// 'header': rendered as a header value.
// `django: true` marks rows whose `expected` was checked against Django 5.2 itself (rendering
// the same template with {{ event }} = the row's event), not only against Django's docs.
import type { JsonObject, JsonValue, Profile } from '../../../src/documents';

export interface ExpectedError {
  type: 'syntax' | 'render' | 'limit';
  message?: RegExp;
  line?: number;
}

export interface ConformanceCase {
  name: string;
  template: string;
  mode?: 'text' | 'body' | 'header';
  /** Replaces the default event (null: a flow not triggered by a metric). */
  event?: JsonObject | null;
  /** Replaces the default profile. */
  profile?: Profile;
  /** ISO time of `now` (default 2024-03-05T14:07:09Z, a Tuesday). */
  now?: string;
  expected?: string;
  expectedJson?: JsonValue;
  expectedError?: ExpectedError;
  django?: boolean;
}

export const DEFAULT_NOW = '2024-03-05T14:07:09Z';

export const DEFAULT_PROFILE: Profile = {
  id: '01HPROFILE',
  email: 'shah@example.com',
  phone_number: '+15555550100',
  external_id: 'ext-42',
  first_name: 'Shah',
  last_name: 'Rukh',
  organization: 'Acme',
  title: 'Buyer',
  location: {
    address1: '1 Main St',
    address2: 'Apt 2',
    city: 'Boston',
    region: 'MA',
    country: 'US',
    zip: '02110',
    timezone: 'America/New_York',
  },
  properties: {
    Tier: 'gold',
    'Favorite Color': 'teal',
    $source: 'import',
    Points: 1200,
    Birthday: '1990-07-04',
  },
};

export const DEFAULT_EVENT: JsonObject = {
  OrderId: 'A-1001',
  $value: 129.5,
  DiscountCode: 'WELCOME10',
  ItemNames: ['Shirt', 'Mug', 'Socks'],
  Items: [
    { SKU: 'S-1', 'Product Name': 'Shirt', Quantity: 2, ItemPrice: 20 },
    { SKU: 'M-2', 'Product Name': 'Mug', Quantity: 1, ItemPrice: 18.5 },
  ],
  'Coupon Codes': ['SAVE5', 'VIP'],
  extra: { checkout_url: 'https://shop.example.com/checkout/abc' },
  CheckoutURL: 'https://shop.example.com/checkout/abc',
  Empty: '',
  Zero: 0,
  Nothing: null,
  Yes: true,
  No: false,
  EmptyList: [],
};

const syntax = (message?: RegExp, line?: number): ExpectedError => ({
  type: 'syntax',
  ...(message === undefined ? {} : { message }),
  ...(line === undefined ? {} : { line }),
});

export const CASES: ConformanceCase[] = [
  // ---- variables and the context --------------------------------------------------------------
  { name: 'bare email', template: '{{ email }}', expected: 'shah@example.com' },
  { name: 'bare first_name', template: '{{ first_name }} {{ last_name }}', expected: 'Shah Rukh' },
  { name: 'person.email', template: '{{ person.email }}', expected: 'shah@example.com' },
  { name: 'person.phone_number', template: '{{ person.phone_number }}', expected: '+15555550100' },
  { name: 'person.full_name', template: '{{ person.full_name }}', expected: 'Shah Rukh' },
  { name: 'person.organization', template: '{{ person.organization }}', expected: 'Acme' },
  { name: 'person.title', template: '{{ person.title }}', expected: 'Buyer' },
  { name: 'person.external_id', template: '{{ person.external_id }}', expected: 'ext-42' },
  {
    name: 'person location fields',
    template: '{{ person.city }}, {{ person.region }} {{ person.zip }}',
    expected: 'Boston, MA 02110',
  },
  { name: 'person.location.city', template: '{{ person.location.city }}', expected: 'Boston' },
  {
    name: 'Klaviyo capitalised aliases',
    template: '{{ person.City }}/{{ person.Region }}/{{ person.Country }}/{{ person.Zipcode }}',
    expected: 'Boston/MA/US/02110',
  },
  { name: 'custom property with dot notation', template: '{{ person.Tier }}', expected: 'gold' },
  {
    name: 'custom property with a space uses lookup',
    template: "{{ person|lookup:'Favorite Color' }}",
    expected: 'teal',
  },
  {
    name: '$email through lookup',
    template: "{{ person|lookup:'$email' }}",
    expected: 'shah@example.com',
  },
  {
    name: '$phone_number through lookup',
    template: "{{ person|lookup:'$phone_number' }}",
    expected: '+15555550100',
  },
  {
    name: '$first_name / $last_name',
    template: "{{ person|lookup:'$first_name' }} {{ person|lookup:'$last_name' }}",
    expected: 'Shah Rukh',
  },
  {
    name: '$organization / $title',
    template: "{{ person|lookup:'$organization' }}, {{ person|lookup:'$title' }}",
    expected: 'Acme, Buyer',
  },
  {
    name: '$city $region $country $zip',
    template:
      "{{ person|lookup:'$city' }} {{ person|lookup:'$region' }} {{ person|lookup:'$country' }} {{ person|lookup:'$zip' }}",
    expected: 'Boston MA US 02110',
  },
  {
    name: '$address1 / $timezone',
    template: "{{ person|lookup:'$address1' }} ({{ person|lookup:'$timezone' }})",
    expected: '1 Main St (America/New_York)',
  },
  {
    name: '$id and $external_id',
    template: "{{ person|lookup:'$id' }}/{{ person|lookup:'$external_id' }}",
    expected: '01HPROFILE/ext-42',
  },
  {
    name: '$-prefixed custom property',
    template: "{{ person|lookup:'$source' }}",
    expected: 'import',
  },
  { name: 'custom properties are not bare names', template: '[{{ Tier }}]', expected: '[]' },
  {
    name: 'names are case-sensitive',
    template: '[{{ person.EMAIL }}][{{ event.orderid }}]',
    expected: '[][]',
  },
  { name: 'event property', template: '{{ event.OrderId }}', expected: 'A-1001', django: true },
  {
    name: 'event $value through lookup',
    template: "{{ event|lookup:'$value' }}",
    expected: '129.5',
  },
  {
    name: 'event extra data',
    template: '{{ event.extra.checkout_url }}',
    expected: 'https://shop.example.com/checkout/abc',
    django: true,
  },
  {
    name: 'numeric path segment',
    template: '{{ event.Items.0.SKU }}',
    expected: 'S-1',
    django: true,
  },
  {
    name: 'second list element',
    template: '{{ event.ItemNames.1 }}',
    expected: 'Mug',
    django: true,
  },
  { name: 'index out of range is empty', template: '[{{ event.ItemNames.9 }}]', expected: '[]' },
  {
    name: 'chained lookups',
    template: "{{ event|lookup:'Items'|lookup:0|lookup:'Product Name' }}",
    expected: 'Shirt',
  },
  {
    name: "lookup:'0' on a list (Klaviyo example)",
    template: "{{ event|lookup:'Coupon Codes'|lookup:'0' }}",
    expected: 'SAVE5',
  },
  {
    name: 'lookup with a variable key',
    template: '{% with key="OrderId" %}{{ event|lookup:key }}{% endwith %}',
    expected: 'A-1001',
  },
  { name: 'missing variable is empty', template: '[{{ nothing_here }}]', expected: '[]' },
  { name: 'missing nested path is empty', template: '[{{ event.a.b.c.d.e }}]', expected: '[]' },
  { name: 'failed lookup is empty', template: "[{{ event|lookup:'Missing' }}]", expected: '[]' },
  { name: 'None prints as nothing', template: '[{{ event.Nothing }}]', expected: '[]' },
  {
    name: 'event is empty in flows not triggered by a metric',
    template: "[{{ event.OrderId }}{{ event|lookup:'$value' }}]",
    event: null,
    expected: '[]',
  },
  {
    name: 'booleans print as JSON booleans',
    template: '{{ event.Yes }}/{{ event.No }}',
    expected: 'true/false',
  },
  {
    name: 'numbers print as numbers',
    template: '{{ event.Zero }}/{{ event.Items.1.ItemPrice }}',
    expected: '0/18.5',
  },
  {
    name: 'lists print as compact JSON',
    template: '{{ event.ItemNames }}',
    expected: '["Shirt","Mug","Socks"]',
  },
  {
    name: 'objects print as compact JSON',
    template: '{{ event.extra }}',
    expected: '{"checkout_url":"https://shop.example.com/checkout/abc"}',
  },
  {
    name: 'organization fields',
    template: '{{ organization.name }} {{ organization.url }}',
    expected: 'Example Shop https://shop.example.com',
  },
  {
    name: 'organization address fields',
    template:
      '{{ organization.street_address }}|{{ organization.city }}|{{ organization.zip_code }}|{{ organization.region }}',
    expected: '9 Market St|Portland|97201|OR',
  },
  {
    name: 'organization.full_address',
    template: '{{ organization.full_address }}',
    expected: '9 Market St, Portland, OR 97201, US',
  },
  {
    name: 'flow id and name',
    template: '{{ flow.id }}: {{ flow.name }}',
    expected: 'FLOW-1: Welcome',
  },
  { name: 'now is an ISO timestamp', template: '{{ now }}', expected: '2024-03-05T14:07:09.000Z' },
  {
    name: 'date attributes',
    template: '{{ now.year }}-{{ now.month }}-{{ now.day }}',
    expected: '2024-3-5',
  },
  { name: 'string literal', template: '{{ \'hello\' }} {{ "world" }}', expected: 'hello world' },
  { name: 'number literal', template: '{{ 42 }} {{ -1.5 }}', expected: '42 -1.5' },
  { name: 'string literal containing | and :', template: "{{ 'a|b:c'|upper }}", expected: 'A|B:C' },
  {
    name: 'filter argument containing | and :',
    template: "{{ event.Nothing|default:'x|y:z' }}",
    expected: 'x|y:z',
  },
  { name: 'spaces around the pipe', template: '{{ event.OrderId | lower }}', expected: 'a-1001' },
  {
    name: 'text outside tags is untouched',
    template: 'a: b | c {x} %} #} }}',
    expected: 'a: b | c {x} %} #} }}',
  },
  {
    name: 'dict.items in a for loop',
    template: '{% for k, v in event.extra.items %}{{ k }}={{ v }}{% endfor %}',
    expected: 'checkout_url=https://shop.example.com/checkout/abc',
    django: true,
  },

  // ---- if ---------------------------------------------------------------------------------------
  { name: 'if true', template: '{% if event.Yes %}yes{% endif %}', expected: 'yes', django: true },
  { name: 'if false', template: '[{% if event.No %}yes{% endif %}]', expected: '[]', django: true },
  {
    name: 'if/else',
    template: '{% if event.No %}a{% else %}b{% endif %}',
    expected: 'b',
    django: true,
  },
  {
    name: 'if/elif/else',
    template:
      '{% if event.No %}a{% elif event.Zero %}b{% elif event.OrderId %}c{% else %}d{% endif %}',
    expected: 'c',
    django: true,
  },
  {
    name: 'several elif, none true',
    template:
      '{% if event.No %}a{% elif event.Zero %}b{% elif event.Empty %}c{% else %}d{% endif %}',
    expected: 'd',
    django: true,
  },
  {
    name: 'empty string, 0, None, [] are false',
    template:
      '{% if event.Empty or event.Zero or event.Nothing or event.EmptyList %}t{% else %}f{% endif %}',
    expected: 'f',
    django: true,
  },
  {
    name: 'and',
    template: '{% if event.Yes and event.OrderId %}t{% else %}f{% endif %}',
    expected: 't',
    django: true,
  },
  {
    name: 'or',
    template: '{% if event.No or event.OrderId %}t{% else %}f{% endif %}',
    expected: 't',
    django: true,
  },
  {
    name: 'not',
    template: '{% if not event.No %}t{% else %}f{% endif %}',
    expected: 't',
    django: true,
  },
  {
    name: 'and binds tighter than or',
    template: '{% if event.Yes or event.No and event.No %}t{% else %}f{% endif %}',
    expected: 't',
    django: true,
  },
  {
    name: 'parentheses',
    template: '{% if (event.Yes or event.No) and event.No %}t{% else %}f{% endif %}',
    expected: 'f',
  },
  {
    name: '== string',
    template: "{% if event.OrderId == 'A-1001' %}t{% endif %}",
    expected: 't',
    django: true,
  },
  {
    name: '!= ',
    template: "{% if event.OrderId != 'x' %}t{% endif %}",
    expected: 't',
    django: true,
  },
  {
    name: '== number vs float',
    template: '{% if event.Items.0.ItemPrice == 20.0 %}t{% endif %}',
    expected: 't',
    django: true,
  },
  {
    name: 'string never equals number',
    template: "{% if event.Items.0.ItemPrice == '20' %}t{% else %}f{% endif %}",
    expected: 'f',
    django: true,
  },
  {
    name: '< <= > >=',
    template:
      "{% if event.Zero < 1 %}a{% endif %}{% if 1 <= 1 %}b{% endif %}{% if event|lookup:'$value' > 100 %}c{% endif %}{% if 2 >= 3 %}d{% endif %}",
    expected: 'abc',
  },
  {
    name: 'comparing a number with a string is false',
    template: '{% if event.OrderId > 5 %}t{% else %}f{% endif %}',
    expected: 'f',
    django: true,
  },
  {
    name: 'in (list)',
    template: "{% if 'Mug' in event.ItemNames %}t{% endif %}",
    expected: 't',
    django: true,
  },
  {
    name: 'in (string)',
    template: "{% if '@example.com' in person.email %}t{% endif %}",
    expected: 't',
  },
  {
    name: 'in (dict keys)',
    template: "{% if 'checkout_url' in event.extra %}t{% endif %}",
    expected: 't',
    django: true,
  },
  {
    name: 'not in',
    template: "{% if 'Hat' not in event.ItemNames %}t{% endif %}",
    expected: 't',
    django: true,
  },
  {
    name: 'is None / is not None',
    template:
      '{% if event.Nothing is None %}a{% endif %}{% if event.OrderId is not None %}b{% endif %}',
    expected: 'ab',
    django: true,
  },
  {
    name: 'filters inside conditions',
    template: '{% if event.ItemNames|length > 2 %}many{% endif %}',
    expected: 'many',
    django: true,
  },
  {
    name: 'True / False / None literals',
    template: '{% if event.Yes == True and event.No == False %}t{% endif %}',
    expected: 't',
    django: true,
  },

  // ---- for ----------------------------------------------------------------------------------
  {
    name: 'for loop',
    template: '{% for n in event.ItemNames %}{{ n }};{% endfor %}',
    expected: 'Shirt;Mug;Socks;',
    django: true,
  },
  {
    name: 'forloop.counter / counter0',
    template:
      '{% for n in event.ItemNames %}{{ forloop.counter }}{{ forloop.counter0 }} {% endfor %}',
    expected: '10 21 32 ',
    django: true,
  },
  {
    name: 'forloop.revcounter / revcounter0',
    template:
      '{% for n in event.ItemNames %}{{ forloop.revcounter }}{{ forloop.revcounter0 }} {% endfor %}',
    expected: '32 21 10 ',
    django: true,
  },
  {
    name: 'forloop.first / last',
    template:
      '{% for n in event.ItemNames %}{% if forloop.first %}[{% endif %}{{ n }}{% if forloop.last %}]{% else %},{% endif %}{% endfor %}',
    expected: '[Shirt,Mug,Socks]',
    django: true,
  },
  {
    name: 'forloop.parentloop',
    template:
      '{% for i in event.Items %}{% for n in event.ItemNames %}{{ forloop.parentloop.counter }}.{{ forloop.counter }} {% endfor %}{% endfor %}',
    expected: '1.1 1.2 1.3 2.1 2.2 2.3 ',
    django: true,
  },
  {
    name: 'forloop.parentloop.parentloop',
    template:
      '{% for a in event.Items %}{% for b in event.Items %}{% for c in event.Items %}{{ forloop.parentloop.parentloop.counter }}{% endfor %}{% endfor %}{% endfor %}',
    expected: '11112222',
    django: true,
  },
  {
    name: 'for ... empty (empty list)',
    template: '{% for x in event.EmptyList %}{{ x }}{% empty %}none{% endfor %}',
    expected: 'none',
    django: true,
  },
  {
    name: 'for ... empty (missing)',
    template: '{% for x in event.Missing %}{{ x }}{% empty %}none{% endfor %}',
    expected: 'none',
    django: true,
  },
  {
    name: 'for ... empty (not empty)',
    template: '{% for x in event.ItemNames %}{{ x }}{% empty %}none{% endfor %}',
    expected: 'ShirtMugSocks',
    django: true,
  },
  {
    name: 'for reversed',
    template: '{% for n in event.ItemNames reversed %}{{ n }} {% endfor %}',
    expected: 'Socks Mug Shirt ',
    django: true,
  },
  {
    name: 'loop over objects in a list',
    template: '{% for item in event.Items %}{{ item.SKU }}x{{ item.Quantity }} {% endfor %}',
    expected: 'S-1x2 M-2x1 ',
    django: true,
  },
  {
    name: 'lookup on the loop variable',
    template: "{% for item in event.Items %}{{ item|lookup:'Product Name' }},{% endfor %}",
    expected: 'Shirt,Mug,',
  },
  {
    name: 'unpacking pairs',
    template: '{% for k, v in event.extra.items %}{{ k }}:{{ v|length }}{% endfor %}',
    expected: 'checkout_url:37',
    django: true,
  },
  {
    name: 'iterating a dict gives its keys',
    template: '{% for k in event.extra %}{{ k }}{% endfor %}',
    expected: 'checkout_url',
    django: true,
  },
  {
    name: 'iterating a string gives characters',
    template: '{% for c in event.OrderId %}{{ c }}.{% endfor %}',
    expected: 'A.-.1.0.0.1.',
    django: true,
  },
  {
    name: 'loop variable shadows and is restored',
    template: '{% for email in event.ItemNames %}{% endfor %}{{ email }}',
    expected: 'shah@example.com',
  },
  { name: 'forloop outside a loop is empty', template: '[{{ forloop.counter }}]', expected: '[]' },

  // ---- with ---------------------------------------------------------------------------------
  {
    name: 'with a=b',
    template: '{% with total=event.ItemNames|length %}{{ total }} items{% endwith %}',
    expected: '3 items',
    django: true,
  },
  {
    name: 'with b as a (legacy)',
    template: '{% with event.OrderId as id %}#{{ id }}{% endwith %}',
    expected: '#A-1001',
    django: true,
  },
  {
    name: 'with several names',
    template: '{% with a=event.OrderId b="x" %}{{ a }}{{ b }}{% endwith %}',
    expected: 'A-1001x',
    django: true,
  },
  {
    name: 'with scope ends at endwith',
    template: '{% with email="inner" %}{{ email }}{% endwith %}/{{ email }}',
    expected: 'inner/shah@example.com',
  },
  {
    name: 'with inside a loop',
    template:
      '{% for item in event.Items %}{% with q=item.Quantity %}{{ q }}{% endwith %}{% endfor %}',
    expected: '21',
    django: true,
  },

  // ---- comments -----------------------------------------------------------------------------
  { name: '{# #} comment', template: 'a{# ignored {{ x }} #}b', expected: 'ab', django: true },
  {
    name: '{% comment %} block',
    template: 'a{% comment %}{{ nope|bogus }}{% unknown %}{% endcomment %}b',
    expected: 'ab',
    django: true,
  },
  {
    name: '{% comment "note" %}',
    template: 'a{% comment "why" %}x{% endcomment %}b',
    expected: 'ab',
    django: true,
  },

  // ---- now / today --------------------------------------------------------------------------
  {
    name: 'now with Django format',
    template: '{% now "Y-m-d H:i" %}',
    expected: '2024-03-05 14:07',
  },
  { name: 'now with strftime format', template: '{% now "%Y/%m/%d" %}', expected: '2024/03/05' },
  { name: 'now ... as', template: '{% now "Y" as year %}({{ year }})', expected: '(2024)' },
  {
    name: 'today as (Klaviyo example)',
    template: '{% today "%Y-%m-%d" as today %}{{ today }}',
    expected: '2024-03-05',
  },
  { name: 'today without a format', template: '{% today %}', expected: '2024-03-05' },
  {
    name: 'today with a date filter',
    template: '{% today "%Y-%m-%d" as d %}{{ d|date:"D, j N Y" }}',
    expected: 'Tue, 5 March 2024',
  },

  // ---- other tags ---------------------------------------------------------------------------
  {
    name: 'firstof',
    template: '{% firstof event.Empty event.Nothing event.OrderId "x" %}',
    expected: 'A-1001',
    django: true,
  },
  {
    name: 'firstof with a literal fallback',
    template: '{% firstof event.Empty "fallback" %}',
    expected: 'fallback',
    django: true,
  },
  {
    name: 'currency_format (Klaviyo)',
    template: "{% currency_format event|lookup:'$value' %}",
    expected: '$129.50',
  },
  {
    name: 'currency_format with thousands',
    template: '{% currency_format 1234567.891 %}',
    expected: '$1,234,567.89',
  },
  {
    name: 'templatetag',
    template: '{% templatetag openvariable %} x {% templatetag closevariable %}',
    expected: '{{ x }}',
    django: true,
  },
  {
    name: 'verbatim',
    template: '{% verbatim %}{{ not rendered }}{% endverbatim %}',
    expected: '{{ not rendered }}',
    django: true,
  },

  // ---- Django filters -----------------------------------------------------------------------
  {
    name: 'default on empty string',
    template: "{{ event.Empty|default:'nothing' }}",
    expected: 'nothing',
    django: true,
  },
  {
    name: 'default on 0',
    template: "{{ event.Zero|default:'nothing' }}",
    expected: 'nothing',
    django: true,
  },
  {
    name: 'default on False',
    template: "{{ event.No|default:'nothing' }}",
    expected: 'nothing',
    django: true,
  },
  {
    name: 'default on []',
    template: "{{ event.EmptyList|default:'nothing' }}",
    expected: 'nothing',
    django: true,
  },
  {
    name: 'default on missing',
    template: "{{ event.Missing|default:'nothing' }}",
    expected: 'nothing',
    django: true,
  },
  {
    name: 'default keeps a value',
    template: "{{ event.OrderId|default:'nothing' }}",
    expected: 'A-1001',
    django: true,
  },
  {
    name: 'default with a variable',
    template: '{{ event.Empty|default:event.OrderId }}',
    expected: 'A-1001',
    django: true,
  },
  {
    name: 'default_if_none on None',
    template: "{{ event.Nothing|default_if_none:'nothing' }}",
    expected: 'nothing',
    django: true,
  },
  {
    name: 'default_if_none keeps empty string',
    template: "[{{ event.Empty|default_if_none:'nothing' }}]",
    expected: '[]',
    django: true,
  },
  {
    name: 'default_if_none on a missing variable (treated as None)',
    template: "{{ event.Missing|default_if_none:'nothing' }}",
    expected: 'nothing',
  },
  {
    name: 'length of a string',
    template: '{{ event.OrderId|length }}',
    expected: '6',
    django: true,
  },
  {
    name: 'length of a list',
    template: '{{ event.ItemNames|length }}',
    expected: '3',
    django: true,
  },
  { name: 'length of a dict', template: '{{ event.extra|length }}', expected: '1', django: true },
  {
    name: 'length of missing is 0',
    template: '{{ event.Missing|length }}',
    expected: '0',
    django: true,
  },
  {
    name: 'length counts code points',
    template: '{{ event.s|length }}',
    event: { s: 'a😀é' },
    expected: '3',
    django: true,
  },
  {
    name: 'first / last of a list',
    template: '{{ event.ItemNames|first }}-{{ event.ItemNames|last }}',
    expected: 'Shirt-Socks',
    django: true,
  },
  {
    name: 'first / last of a string',
    template: '{{ event.OrderId|first }}{{ event.OrderId|last }}',
    expected: 'A1',
    django: true,
  },
  {
    name: 'first of an empty list',
    template: '[{{ event.EmptyList|first }}]',
    expected: '[]',
    django: true,
  },
  {
    name: 'join',
    template: '{{ event.ItemNames|join:" // " }}',
    expected: 'Shirt // Mug // Socks',
    django: true,
  },
  {
    name: 'join numbers (as Django does with autoescaping on)',
    template: '{{ event.n|join:"," }}',
    event: { n: [1, 2.5, 3] },
    expected: '1,2.5,3',
  },
  {
    name: 'join a dict joins its keys',
    template: '{{ event.extra|join:"," }}',
    expected: 'checkout_url',
    django: true,
  },
  {
    name: 'slice "2" (first two)',
    template: '{{ event.ItemNames|slice:"2"|join:"," }}',
    expected: 'Shirt,Mug',
    django: true,
  },
  {
    name: 'slice ":2"',
    template: '{{ event.ItemNames|slice:":2"|join:"," }}',
    expected: 'Shirt,Mug',
    django: true,
  },
  {
    name: 'slice "1:"',
    template: '{{ event.ItemNames|slice:"1:"|join:"," }}',
    expected: 'Mug,Socks',
    django: true,
  },
  {
    name: 'slice "-2:"',
    template: '{{ event.ItemNames|slice:"-2:"|join:"," }}',
    expected: 'Mug,Socks',
    django: true,
  },
  {
    name: 'slice "::-1"',
    template: '{{ event.ItemNames|slice:"::-1"|join:"," }}',
    expected: 'Socks,Mug,Shirt',
    django: true,
  },
  {
    name: 'slice "0:3:2"',
    template: '{{ event.ItemNames|slice:"0:3:2"|join:"," }}',
    expected: 'Shirt,Socks',
    django: true,
  },
  {
    name: 'slice a string',
    template: '{{ event.OrderId|slice:"2:" }}',
    expected: '1001',
    django: true,
  },
  {
    name: 'upper / lower',
    template: '{{ event.s|upper }} {{ event.s|lower }}',
    event: { s: 'Straße Ünï' },
    expected: 'STRASSE ÜNÏ straße ünï',
    django: true,
  },
  {
    name: 'title (Django docs)',
    template: '{{ event.s|title }}',
    event: { s: 'my FIRST post' },
    expected: 'My First Post',
    django: true,
  },
  {
    name: 'title with apostrophes and digits',
    template: '{{ event.s|title }}',
    event: { s: "they're bill's 1st o'neil" },
    expected: "They're Bill's 1st O'Neil",
    django: true,
  },
  {
    name: 'title with non-ASCII',
    template: '{{ event.s|title }}',
    event: { s: 'élan vital ÆSIR' },
    expected: 'Élan Vital Æsir',
    django: true,
  },
  {
    name: 'capfirst',
    template: '{{ event.s|capfirst }}',
    event: { s: 'django rocks' },
    expected: 'Django rocks',
    django: true,
  },
  {
    name: 'truncatechars (Django docs)',
    template: '{{ event.s|truncatechars:7 }}',
    event: { s: 'Joel is a slug' },
    expected: 'Joel i…',
    django: true,
  },
  {
    name: 'truncatechars not needed',
    template: '{{ event.s|truncatechars:14 }}',
    event: { s: 'Joel is a slug' },
    expected: 'Joel is a slug',
    django: true,
  },
  {
    name: 'truncatechars:1',
    template: '{{ event.s|truncatechars:1 }}',
    event: { s: 'Joel' },
    expected: '…',
    django: true,
  },
  {
    name: 'truncatechars with emoji',
    template: '{{ event.s|truncatechars:3 }}',
    event: { s: '😀😀😀😀' },
    expected: '😀😀…',
    django: true,
  },
  {
    name: 'truncatechars ignores combining marks',
    template: '{{ event.s|truncatechars:3 }}',
    event: { s: 'a\u0328\u0301bcd' },
    expected: '\u0105\u0301b…',
    django: true,
  },
  {
    name: 'truncatewords (Django docs)',
    template: '{{ event.s|truncatewords:2 }}',
    event: { s: 'Joel is a slug' },
    expected: 'Joel is …',
    django: true,
  },
  {
    name: 'truncatewords not needed (whitespace normalised)',
    template: '{{ event.s|truncatewords:5 }}',
    event: { s: 'Joel  is\ta slug' },
    expected: 'Joel is a slug',
    django: true,
  },
  {
    name: 'floatformat (docs: 34.23234)',
    template: '{{ event.a|floatformat }}|{{ event.b|floatformat }}|{{ event.c|floatformat }}',
    event: { a: 34.23234, b: 34.0, c: 34.26 },
    expected: '34.2|34|34.3',
    django: true,
  },
  {
    name: 'floatformat:3',
    template: '{{ event.a|floatformat:3 }}|{{ event.b|floatformat:3 }}|{{ event.c|floatformat:3 }}',
    event: { a: 34.23234, b: 34.0, c: 34.26 },
    expected: '34.232|34.000|34.260',
    django: true,
  },
  {
    name: 'floatformat:"0"',
    template:
      '{{ event.a|floatformat:"0" }}|{{ event.b|floatformat:"0" }}|{{ event.c|floatformat:"0" }}',
    event: { a: 34.23234, b: 34.0, c: 39.56 },
    expected: '34|34|40',
    django: true,
  },
  {
    name: 'floatformat:"-3" (negative argument)',
    template:
      '{{ event.a|floatformat:"-3" }}|{{ event.b|floatformat:"-3" }}|{{ event.c|floatformat:"-3" }}',
    event: { a: 34.23234, b: 34.0, c: 34.26 },
    expected: '34.232|34|34.260',
    django: true,
  },
  {
    name: 'floatformat:"2g" / "g"',
    template: '{{ event.a|floatformat:"2g" }}|{{ event.b|floatformat:"g" }}',
    event: { a: 6666.6666, b: 10000 },
    expected: '6,666.67|10,000',
    django: true,
  },
  {
    name: 'floatformat rounds half up on the decimal value',
    template: '{{ event.a|floatformat:2 }}|{{ event.b|floatformat:1 }}',
    event: { a: 2.675, b: -0.05 },
    expected: '2.68|-0.1',
    django: true,
  },
  {
    name: 'floatformat of a numeric string',
    template: '{{ event.a|floatformat:2 }}',
    event: { a: '12.5' },
    expected: '12.50',
    django: true,
  },
  {
    name: 'floatformat of a tiny negative',
    template: '{{ event.a|floatformat }}',
    event: { a: -0.04 },
    expected: '0.0',
    django: true,
  },
  {
    name: 'floatformat of a non-number is empty',
    template: '[{{ event.a|floatformat }}]',
    event: { a: 'abc' },
    expected: '[]',
    django: true,
  },
  {
    name: 'floatformat of an integer',
    template: '{{ event.a|floatformat:2 }}',
    event: { a: 7 },
    expected: '7.00',
    django: true,
  },
  {
    name: 'date (Django docs "D d M Y")',
    template: '{{ event.d|date:"D d M Y" }}',
    event: { d: '2008-01-09T10:00:00Z' },
    expected: 'Wed 09 Jan 2008',
  },
  {
    name: 'date "Y-m-d H:i"',
    template: '{{ now|date:"Y-m-d H:i" }}',
    expected: '2024-03-05 14:07',
  },
  { name: 'date default format', template: '{{ now|date }}', expected: 'March 5, 2024' },
  {
    name: 'date jS F Y, l',
    template: '{{ now|date:"jS F Y, l" }}',
    expected: '5th March 2024, Tuesday',
  },
  {
    name: 'date 12-hour formats',
    template: '{{ now|date:"g:i A / h a / P" }}',
    expected: '2:07 PM / 02 p.m. / 2:07 p.m.',
  },
  {
    name: 'date c (ISO 8601)',
    template: '{{ now|date:"c" }}',
    expected: '2024-03-05T14:07:09+00:00',
  },
  {
    name: 'date U / w / z / t / L / W',
    template: '{{ now|date:"U w z t L W" }}',
    expected: '1709647629 2 65 31 True 10',
  },
  {
    name: 'date with escaped characters',
    template: '{{ now|date:"\\Y\\e\\a\\r: Y" }}',
    expected: 'Year: 2024',
  },
  {
    name: 'date of a Klaviyo timestamp string',
    template: '{{ event.d|date:"N j, Y P" }}',
    event: { d: '2024-12-25 00:00:00' },
    expected: 'Dec. 25, 2024 midnight',
  },
  {
    name: 'date converts offsets to UTC',
    template: '{{ event.d|date:"Y-m-d H:i" }}',
    event: { d: '2024-06-01T08:30:00-04:00' },
    expected: '2024-06-01 12:30',
  },
  {
    name: 'date with strftime directives',
    template: '{{ event.d|date:"%d/%m/%Y %H:%M" }}',
    event: { d: '2024-06-01T08:30:00Z' },
    expected: '01/06/2024 08:30',
  },
  {
    name: 'date of a non-date is empty',
    template: '[{{ event.d|date:"Y" }}]',
    event: { d: 'not a date' },
    expected: '[]',
  },
  {
    name: 'add integers (Django docs)',
    template: '{{ event.v|add:"2" }}',
    event: { v: 4 },
    expected: '6',
    django: true,
  },
  {
    name: 'add numeric strings',
    template: '{{ event.v|add:"4" }}',
    event: { v: '3' },
    expected: '7',
    django: true,
  },
  {
    name: 'add truncates floats (Django)',
    template: '{{ event.v|add:1 }}',
    event: { v: 2.5 },
    expected: '3',
    django: true,
  },
  {
    name: 'add concatenates strings',
    template: '{{ event.v|add:"def" }}',
    event: { v: 'abc' },
    expected: 'abcdef',
    django: true,
  },
  {
    name: 'add concatenates lists',
    template: '{{ event.a|add:event.b|join:"," }}',
    event: { a: ['x'], b: ['y', 'z'] },
    expected: 'x,y,z',
    django: true,
  },
  {
    name: 'add of incompatible values is empty',
    template: '[{{ event.v|add:"x" }}]',
    event: { v: 3 },
    expected: '[]',
    django: true,
  },
  {
    name: 'cut (Django docs)',
    template: '{{ event.s|cut:" " }}',
    event: { s: 'String with spaces' },
    expected: 'Stringwithspaces',
    django: true,
  },
  {
    name: 'escapejs (Django docs), decoded from the JSON string',
    template: '{{ event.s|escapejs }}',
    event: { s: 'testing\r\njavascript \'string" <b>escaping</b>' },
    expected: 'testing\r\njavascript \'string" <b>escaping</b>',
  },
  {
    name: 'escapejs output as text',
    template: '{{ event.s|escapejs }}',
    mode: 'header',
    event: { s: 'a\'b"c<d>-=;&`\\' },
    expected: 'a\\u0027b\\u0022c\\u003Cd\\u003E\\u002D\\u003D\\u003B\\u0026\\u0060\\u005C',
    django: true,
  },
  {
    name: 'urlencode (Django docs)',
    template: '{{ event.s|urlencode }}',
    event: { s: 'https://www.example.org/foo?a=b&c=d' },
    expected: 'https%3A//www.example.org/foo%3Fa%3Db%26c%3Dd',
    django: true,
  },
  {
    name: 'urlencode with no safe characters',
    template: '{{ event.s|urlencode:"" }}',
    event: { s: 'https://www.example.org/foo?a=b&c=d' },
    expected: 'https%3A%2F%2Fwww.example.org%2Ffoo%3Fa%3Db%26c%3Dd',
    django: true,
  },
  {
    name: 'urlencode of UTF-8 and reserved characters',
    template: '{{ event.s|urlencode }}',
    event: { s: "é ü!*'()~_.-" },
    expected: '%C3%A9%20%C3%BC%21%2A%27%28%29~_.-',
    django: true,
  },
  {
    name: 'yesno (Django docs)',
    template:
      '{{ event.Yes|yesno:"yeah,no,maybe" }} {{ event.No|yesno:"yeah,no,maybe" }} {{ event.Nothing|yesno:"yeah,no,maybe" }}',
    expected: 'yeah no maybe',
    django: true,
  },
  {
    name: 'yesno without maybe',
    template: '{{ event.Nothing|yesno:"yeah,no" }}',
    expected: 'no',
    django: true,
  },
  {
    name: 'yesno default',
    template: '{{ event.Yes|yesno }}/{{ event.No|yesno }}/{{ event.Nothing|yesno }}',
    expected: 'yes/no/maybe',
    django: true,
  },
  {
    name: 'pluralize (Django docs)',
    template: 'vote{{ event.a|pluralize }} vote{{ event.b|pluralize }} vote{{ event.c|pluralize }}',
    event: { a: 0, b: 1, c: 2 },
    expected: 'votes vote votes',
    django: true,
  },
  {
    name: 'pluralize:"es"',
    template: 'class{{ event.a|pluralize:"es" }} class{{ event.b|pluralize:"es" }}',
    event: { a: 1, b: 2 },
    expected: 'class classes',
    django: true,
  },
  {
    name: 'pluralize:"y,ies"',
    template: 'cand{{ event.a|pluralize:"y,ies" }} cand{{ event.b|pluralize:"y,ies" }}',
    event: { a: 1, b: 2 },
    expected: 'candy candies',
    django: true,
  },
  {
    name: 'pluralize a list',
    template: 'item{{ event.ItemNames|pluralize }}',
    expected: 'items',
    django: true,
  },
  {
    name: 'striptags (Django docs)',
    template: '{{ event.s|striptags }}',
    event: { s: '<b>Joel</b> <button>is</button> a <span>slug</span>' },
    expected: 'Joel is a slug',
    django: true,
  },
  {
    name: 'chained filters',
    template: '{{ event.ItemNames|join:", "|upper|truncatechars:10 }}',
    expected: 'SHIRT, MU…',
    django: true,
  },

  // ---- Klaviyo filters ----------------------------------------------------------------------
  { name: 'abs (Klaviyo docs)', template: '{{ -1.2|abs }}', expected: '1.2' },
  {
    name: 'append (Klaviyo docs)',
    template: '{{ "hello"|append:" world" }}',
    expected: 'hello world',
  },
  {
    name: 'at_least (Klaviyo docs; JS numbers print 5.0 as 5)',
    template: '{{ 1|at_least:5.0 }}',
    expected: '5',
  },
  { name: 'at_most (Klaviyo docs)', template: '{{ 1|at_most:-1.0 }}', expected: '-1' },
  {
    name: 'base64_encode',
    template: '{{ person.email|base64_encode }}',
    expected: 'c2hhaEBleGFtcGxlLmNvbQ==',
  },
  {
    name: 'base64_decode',
    template: '{{ "c2hhaEBleGFtcGxlLmNvbQ=="|base64_decode }}',
    expected: 'shah@example.com',
  },
  {
    name: 'base64_url_safe_encode uses - and _',
    template: '{{ event.s|base64_url_safe_encode }} {{ event.s|base64_encode }}',
    event: { s: '\u00fb\u00ef\u00bf' },
    expected: 'w7vDr8K_ w7vDr8K/',
  },
  {
    name: 'base64_url_safe_decode',
    template: '{{ "w7vDr8K_"|base64_url_safe_decode }}',
    expected: '\u00fb\u00ef\u00bf',
  },
  {
    name: 'base64_decode of garbage is empty',
    template: '[{{ "%%%"|base64_decode }}]',
    expected: '[]',
  },
  {
    name: 'capitalize (alias of capfirst)',
    template: '{{ "hello world"|capitalize }}',
    expected: 'Hello world',
  },
  {
    name: 'ceil / floor',
    template: '{{ 5.01|ceil }} {{ 5.99|floor }} {{ -1.5|ceil }}',
    expected: '6 5 -1',
  },
  {
    name: 'compact drops None',
    template: '{{ event.l|compact|tojson }}',
    event: { l: [1, null, 'a', null] },
    expected: '[1,"a"]',
  },
  {
    name: 'concat lists',
    template: '{{ event.ItemNames|concat:event.l|join:"," }}',
    event: { ItemNames: ['a'], l: ['b', 'c'] },
    expected: 'a,b,c',
  },
  {
    name: 'concat strings (Klaviyo docs)',
    template: "{{ 'hello'|concat:' world' }}",
    expected: 'hello world',
  },
  { name: 'count', template: '{{ event.ItemNames|count }} {{ "hello"|count }}', expected: '3 5' },
  { name: 'multiply', template: "{{ event|lookup:'$value'|multiply:2 }}", expected: '259' },
  { name: 'divide', template: '{{ 10|divide:4 }}', expected: '2.5' },
  { name: 'divide by zero is empty', template: '[{{ 10|divide:0 }}]', expected: '[]' },
  { name: 'floatadd', template: '{{ 1.5|floatadd:2.25 }}', expected: '3.75' },
  {
    name: 'round',
    template: '{{ 3.14159|round:2 }} {{ 2.5|round }} {{ 3.5|round }} {{ 1234|round:-2 }}',
    expected: '3.14 2 4 1200',
  },
  {
    name: 'numeric filters leave non-numbers alone',
    template: '{{ "abc"|multiply:2 }}',
    expected: 'abc',
  },
  {
    name: 'add with floatformat (Klaviyo pattern)',
    template: "{{ event|lookup:'$value'|floatadd:0.5|floatformat:2 }}",
    expected: '130.00',
  },

  // ---- tojson and JSON bodies ---------------------------------------------------------------
  {
    name: 'tojson of a list, outside strings',
    mode: 'body',
    template: '{"names": {{ event.ItemNames|tojson }}}',
    expectedJson: { names: ['Shirt', 'Mug', 'Socks'] },
  },
  {
    name: 'tojson of an object',
    mode: 'body',
    template: '{"x": {{ event.extra|tojson }}}',
    expectedJson: { x: { checkout_url: 'https://shop.example.com/checkout/abc' } },
  },
  {
    name: 'tojson of a string quotes it',
    mode: 'body',
    template: '{"id": {{ event.OrderId|tojson }}}',
    expectedJson: { id: 'A-1001' },
  },
  {
    name: 'tojson of numbers, booleans, None, missing',
    mode: 'body',
    template:
      '[{{ 1.5|tojson }}, {{ event.Yes|tojson }}, {{ event.Nothing|tojson }}, {{ event.Missing|tojson }}]',
    expectedJson: [1.5, true, null, null],
  },
  {
    name: 'tojson of the profile',
    mode: 'body',
    template: '{{ person|tojson }}',
    profile: { email: 'a@b.c', first_name: 'A', properties: { x: 1 } },
    expectedJson: { x: 1, email: 'a@b.c', first_name: 'A', full_name: 'A' },
  },
  {
    name: 'tojson inside a string is JSON text',
    template: '{{ event.ItemNames|tojson }}',
    expected: '["Shirt","Mug","Socks"]',
  },
  {
    name: 'numbers outside strings',
    mode: 'body',
    template:
      '{"total": {{ event|lookup:\'$value\' }}, "n": {{ event.ItemNames|length }}, "vip": {{ event.Yes }}}',
    expectedJson: { total: 129.5, n: 3, vip: true },
  },
  {
    name: 'numeric strings outside strings',
    mode: 'body',
    template: '{"price": {{ event.p }}}',
    event: { p: '19.99' },
    expectedJson: { price: 19.99 },
  },
  {
    name: 'a list outside strings is JSON',
    mode: 'body',
    template: '{"names": {{ event.ItemNames }}}',
    expectedJson: { names: ['Shirt', 'Mug', 'Socks'] },
  },
  {
    name: 'a JSON array built with a loop',
    mode: 'body',
    template:
      '[{% for item in event.Items %}{"sku": "{{ item.SKU }}", "qty": {{ item.Quantity }}}{% if not forloop.last %}, {% endif %}{% endfor %}]',
    expectedJson: [
      { sku: 'S-1', qty: 2 },
      { sku: 'M-2', qty: 1 },
    ],
  },
  {
    name: 'an empty loop in an array',
    mode: 'body',
    template: '[{% for x in event.EmptyList %}{{ x }}{% endfor %}]',
    expectedJson: [],
  },
  {
    name: 'Klaviyo webhook example body',
    mode: 'body',
    template:
      '{\n  "email": "{{ person.email }}",\n  "first_name": "{{ person.first_name|default:\'\' }}",\n  "order_id": "{{ event.OrderId }}",\n  "value": {{ event|lookup:\'$value\'|default:0 }},\n  "checkout_url": "{{ event.extra.checkout_url }}"\n}',
    expectedJson: {
      email: 'shah@example.com',
      first_name: 'Shah',
      order_id: 'A-1001',
      value: 129.5,
      checkout_url: 'https://shop.example.com/checkout/abc',
    },
  },
  {
    name: 'header value',
    mode: 'header',
    template: 'Order {{ event.OrderId }} for "{{ person.first_name }}"',
    expected: 'Order A-1001 for "Shah"',
  },

  // ---- refused at validation ----------------------------------------------------------------
  {
    name: 'unknown filter',
    template: '{{ x|bogus }}',
    expectedError: syntax(/unknown filter 'bogus'/, 1),
  },
  {
    name: 'unknown tag',
    template: 'a\n{% bogus %}',
    expectedError: syntax(/unknown tag 'bogus'/, 2),
  },
  {
    name: 'include is refused',
    template: '{% include "other.html" %}',
    expectedError: syntax(/include.*not supported/),
  },
  {
    name: 'extends is refused',
    template: '{% extends "base.html" %}',
    expectedError: syntax(/extends.*not supported/),
  },
  {
    name: 'import is refused',
    template: '{% import "m.html" as m %}',
    expectedError: syntax(/import.*not supported/),
  },
  {
    name: 'from is refused',
    template: '{% from "m.html" import x %}',
    expectedError: syntax(/from.*not supported/),
  },
  {
    name: 'macro is refused',
    template: '{% macro m() %}x{% endmacro %}',
    expectedError: syntax(/macro/),
  },
  {
    name: 'set is refused',
    template: '{% set x = 1 %}',
    expectedError: syntax(/'set' is nunjucks syntax/),
  },
  { name: 'raw is refused', template: '{% raw %}x{% endraw %}', expectedError: syntax(/raw/) },
  { name: 'load is refused', template: '{% load humanize %}', expectedError: syntax(/load/) },
  {
    name: 'coupon codes are refused',
    template: "{% coupon_code 'WELCOME' %}",
    expectedError: syntax(/coupon codes are not supported/),
  },
  {
    name: 'unique coupon codes are refused',
    template: "{% unique_coupon_code 'WELCOME' %}",
    expectedError: syntax(/coupon codes are not supported/),
  },
  {
    name: 'web feed tag is refused',
    template: '{% web_feed "news" %}',
    expectedError: syntax(/web feeds are not supported/),
  },
  {
    name: 'web feed variables are refused',
    template: '{{ feeds.News.items.0.title }}',
    expectedError: syntax(/web feeds are not supported/),
  },
  {
    name: 'catalog tag is refused',
    template: '{% catalog event.ProductID %}{{ catalog_item.title }}{% endcatalog %}',
    expectedError: syntax(/product feeds/),
  },
  {
    name: 'catalog_item is refused',
    template: '{{ catalog_item.title }}',
    expectedError: syntax(/product feeds/),
  },
  {
    name: 'secrets in a body are refused',
    template: '{{ secrets.API_KEY }}',
    expectedError: syntax(/secrets cannot be used in a body/),
  },
  {
    name: 'safe is refused',
    template: '{{ event.OrderId|safe }}',
    expectedError: syntax(/'safe' filter is not available/),
  },
  {
    name: 'missing filter argument',
    template: '{{ x|default }}',
    expectedError: syntax(/requires an argument/),
  },
  {
    name: 'unexpected filter argument',
    template: '{{ x|upper:1 }}',
    expectedError: syntax(/takes no argument/),
  },
  {
    name: 'function call syntax',
    template: '{{ foo() }}',
    expectedError: syntax(/unexpected '\('/),
  },
  {
    name: 'nunjucks expressions',
    template: '{{ a + b }}',
    expectedError: syntax(/unexpected '\+'/),
  },
  {
    name: 'unclosed for',
    template: 'x\n{% for i in event.Items %}\n{{ i }}',
    expectedError: syntax(/never closed/, 2),
  },
  {
    name: 'stray endif',
    template: '{% endif %}',
    expectedError: syntax(/unexpected \{% endif %\}/),
  },
  {
    name: 'unclosed variable tag',
    template: 'a {{ event.OrderId\n}}',
    expectedError: syntax(/unclosed '\{\{'/),
  },
  { name: "'$' in a dotted name", template: '{{ event.$value }}', expectedError: syntax(/lookup/) },
  {
    name: 'underscore names',
    template: '{{ event._private }}',
    expectedError: syntax(/underscore/),
  },
  {
    name: 'unknown forloop attribute',
    template: '{% for i in event.Items %}{{ forloop.index }}{% endfor %}',
    expectedError: syntax(/forloop\.counter/),
  },
  {
    name: 'parentloop without a parent',
    template: '{% for i in event.Items %}{{ forloop.parentloop.counter }}{% endfor %}',
    expectedError: syntax(/no enclosing loop/),
  },
  {
    name: '= instead of ==',
    template: '{% if event.OrderId = 1 %}x{% endif %}',
    expectedError: syntax(/'=='/),
  },
  {
    name: 'unterminated string',
    template: '{{ "abc }}',
    expectedError: syntax(/unterminated string/),
  },
  { name: 'empty variable tag', template: '{{ }}', expectedError: syntax(/empty variable tag/) },
  {
    name: 'body that is never JSON',
    mode: 'body',
    template: '{"a": "{{ event.OrderId }}",}',
    expectedError: syntax(/not valid JSON/, 1),
  },

  // ---- refused at render ----------------------------------------------------------------------
  {
    name: 'a string where a JSON value is expected',
    mode: 'body',
    template: '{"id": {{ event.OrderId }}}',
    expectedError: { type: 'render', message: /outside a JSON string/ },
  },
  {
    name: 'an empty value where a JSON value is expected',
    mode: 'body',
    template: '{"v": {{ event.Missing }}}',
    expectedError: { type: 'render', message: /is empty outside a JSON string/, line: 1 },
  },
  {
    name: 'a loop that breaks the JSON',
    mode: 'body',
    template: '{"a": [{% for n in event.ItemNames %}"{{ n }}"{% endfor %}]}',
    expectedError: {
      type: 'render',
      message:
        /not valid JSON \(line 1, column 15 of the output\): unexpected '"', expected ',' or '\]'/,
    },
  },
];
