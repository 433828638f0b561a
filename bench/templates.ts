// Template benchmark: renders/s of a realistic compiled order body (and a header), and the
// one-off compile cost. Run with `npm run bench:templates`; results also go to
// bench/results/templates.json.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  compileTemplate,
  renderBody,
  renderHeader,
  TemplateCache,
  TemplateLimitError,
  type TemplateInput,
} from '../src/template';

export const ORDER_BODY = `{
  "event": "placed_order",
  "order_id": "{{ event.OrderId }}",
  "placed_at": "{{ now|date:'c' }}",
  "customer": {
    "email": "{{ person.email }}",
    "phone": "{{ person|lookup:'$phone_number'|default:'' }}",
    "name": "{{ person.first_name|title }} {{ person.last_name|title }}",
    "loyalty_tier": "{{ person.LoyaltyTier|default:'none' }}",
    "city": "{{ person.city }}"
  },
  "total": {{ event|lookup:'$value' }},
  "total_display": "{{ event|lookup:'$value'|floatformat:2 }}",
  "discount_code": "{{ event.DiscountCode|default:'' }}",
  "item_count": {{ event.Items|length }},
  "items": [{% for item in event.Items %}
    {
      "sku": "{{ item.SKU }}",
      "name": "{{ item.ProductName|truncatechars:60 }}",
      "quantity": {{ item.Quantity }},
      "price": {{ item.ItemPrice }},
      "url": "{{ item.ProductURL }}"
    }{% if not forloop.last %},{% endif %}{% endfor %}
  ],
  "shipping": {
    "address1": "{{ event.ShippingAddress.Address1 }}",
    "city": "{{ event.ShippingAddress.City }}",
    "zip": "{{ event.ShippingAddress.Zip }}",
    "country": "{{ event.ShippingAddress.CountryCode|upper }}"
  },
  "vip": {% if event|lookup:'$value' >= 100 %}true{% else %}false{% endif %},
  "flow": "{{ flow.name }}"
}`;

export const AUTH_HEADER = 'Bearer {{ secrets.CRM_TOKEN }}';
export const TRACE_HEADER = '{{ flow.id }}-{{ event.OrderId }}';

export function sampleInput(): TemplateInput {
  return {
    profile: {
      id: '01HZX4W6S5C3V0B3Y2F1P9QK7M',
      email: 'jane.oneil@example.com',
      phone_number: '+15555550123',
      first_name: 'jane',
      last_name: "o'neil",
      location: { city: 'Boston', region: 'MA', zip: '02110', country: 'US' },
      properties: { LoyaltyTier: 'gold', 'Accepts Marketing': true },
    },
    event: {
      OrderId: '1042-7781',
      $value: 129.9,
      DiscountCode: 'WELCOME10',
      Items: [
        {
          SKU: 'TSHIRT-RED-M',
          ProductName: 'Classic T-shirt "Red" — organic cotton, medium',
          Quantity: 2,
          ItemPrice: 24.95,
          ProductURL: 'https://shop.example.com/p/tshirt-red',
        },
        {
          SKU: 'MUG-12OZ',
          ProductName: 'Enamel mug 12 oz',
          Quantity: 1,
          ItemPrice: 18,
          ProductURL: 'https://shop.example.com/p/mug',
        },
        {
          SKU: 'SOCKS-3PK',
          ProductName: 'Merino socks, 3-pack',
          Quantity: 3,
          ItemPrice: 20,
          ProductURL: 'https://shop.example.com/p/socks',
        },
      ],
      ShippingAddress: {
        Address1: '1 Main Street',
        City: 'Boston',
        Zip: '02110',
        CountryCode: 'us',
      },
    },
    organization: { name: 'Example Shop', url: 'https://shop.example.com' },
    flow: { id: 'FLW-123', name: 'Post-purchase CRM sync' },
    now: new Date('2025-01-15T10:30:00Z'),
  };
}

let timeouts = 0;

/** Runs fn; a render that ran out of wall-clock time (a busy machine) is counted, not fatal. */
function guarded(fn: () => void): () => void {
  return () => {
    try {
      fn();
    } catch (e) {
      if (e instanceof TemplateLimitError && e.limit === 'timeoutMs') timeouts++;
      else throw e;
    }
  };
}

function measure(label: string, seconds: number, body: () => void): number {
  const fn = guarded(body);
  // Warm up, then take the median of a few rounds (less noise from other work on the machine).
  const warmEnd = Date.now() + 300;
  while (Date.now() < warmEnd) for (let i = 0; i < 1000; i++) fn();
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = Date.now() + (seconds * 1000) / 5;
    while (Date.now() < end) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
    }
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(n / elapsed);
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)] as number;
  console.log(`${label}: ${Math.round(median).toLocaleString('en-US')}/s (median of 5 rounds)`);
  return median;
}

/** The repository root (nearest package.json above this file), else the working directory. */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

function main(): void {
  const input = sampleInput();

  // One-off compile cost (what the cache saves on every render).
  const compileRuns = 300;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < compileRuns; i++) compileTemplate(ORDER_BODY, 'body');
  const compileMs = Number(process.hrtime.bigint() - t0) / 1e6 / compileRuns;
  console.log(`compile (order body, ${ORDER_BODY.length} chars): ${compileMs.toFixed(3)} ms`);

  const body = compileTemplate(ORDER_BODY, 'body');
  const rendered = renderBody(body, input);
  JSON.parse(rendered);
  const auth = compileTemplate(AUTH_HEADER, 'header');
  const trace = compileTemplate(TRACE_HEADER, 'header');

  const bodyRate = measure(`renderBody (order, ${rendered.length} bytes)`, 5, () => {
    renderBody(body, input);
  });
  const freshInputRate = measure('renderBody with a fresh TemplateInput each time', 3, () => {
    renderBody(body, { ...input, now: new Date() });
  });
  const headerRate = measure('renderHeader (2 headers)', 3, () => {
    renderHeader(auth, input);
    renderHeader(trace, input);
  });
  const cache = new TemplateCache();
  const cachedRate = measure('TemplateCache.get + renderBody', 3, () => {
    renderBody(cache.get('FLW-123', 7, 'body', ORDER_BODY, 'body'), input);
  });

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    template_chars: ORDER_BODY.length,
    output_bytes: Buffer.byteLength(rendered),
    compile_ms: Number(compileMs.toFixed(3)),
    render_body_per_s: Math.round(bodyRate),
    render_body_fresh_input_per_s: Math.round(freshInputRate),
    render_two_headers_per_s: Math.round(headerRate),
    cache_get_and_render_per_s: Math.round(cachedRate),
    renders_over_time_limit: timeouts,
    target_render_body_per_s: 100_000,
    meets_target: bodyRate >= 100_000,
  };
  const out = resolve(repoRoot(), 'bench', 'results', 'templates.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  if (timeouts > 0)
    console.log(`renders stopped by the 50 ms time limit (busy machine): ${timeouts}`);
  console.log(`results written to ${out}`);
}

if (require.main === module) main();
