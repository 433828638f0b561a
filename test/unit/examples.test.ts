import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogItemFromValue } from '../../src/catalog/item';
import { decodeEventValue } from '../../src/events/decode';
import { validateFlow } from '../../src/flows/validate';
import { profileUpdateFromValue } from '../../src/profiles/update';

// Every file under examples/ is what the README tells people to send: it must be valid.

const ROOT = join(__dirname, '..', '..', 'examples');
const files = (dir: string) =>
  readdirSync(join(ROOT, dir)).map(
    (f) =>
      [`${dir}/${f}`, JSON.parse(readFileSync(join(ROOT, dir, f), 'utf8')) as unknown] as const,
  );

it.each([...files('flows'), ...files('profiles/flows'), ...files('catalog/flows')])(
  '%s is a valid flow',
  (_name, doc) => {
    const r = validateFlow(doc, { allowHttp: true });
    expect(r.ok ? [] : r.problems).toEqual([]);
  },
);

it.each([...files('events'), ...files('profiles/events'), ...files('catalog/events')])(
  '%s is a valid event',
  (_name, value) => {
    expect(decodeEventValue(value).event.metric).not.toBe('');
  },
);

it.each(files('profiles/updates'))('%s is a valid profile update', (_name, value) => {
  const update = profileUpdateFromValue(value, {
    topic: 'profiles',
    partition: 0,
    offset: '0',
    timestampMs: 0,
  });
  expect(update.profile.email).toBe('sam@example.com');
});

it.each(files('catalog/items'))('%s is a valid catalog item', (_name, value) => {
  expect(catalogItemFromValue(value).id).toBe('TRAIL-SHOE');
});
