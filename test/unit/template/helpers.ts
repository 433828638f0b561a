// Shared fixtures for the template tests.
import type { JsonObject, Profile } from '../../../src/documents';
import type { TemplateInput } from '../../../src/template';
import { DEFAULT_EVENT, DEFAULT_NOW, DEFAULT_PROFILE } from './conformance-cases';

export function makeInput(
  overrides: { event?: JsonObject | null; profile?: Profile; now?: string } = {},
): TemplateInput {
  return {
    profile: overrides.profile ?? DEFAULT_PROFILE,
    event: overrides.event === undefined ? DEFAULT_EVENT : overrides.event,
    organization: {
      name: 'Example Shop',
      url: 'https://shop.example.com',
      address: {
        address1: '9 Market St',
        city: 'Portland',
        region: 'OR',
        zip: '97201',
        country: 'US',
      },
    },
    flow: { id: 'FLOW-1', name: 'Welcome' },
    now: new Date(overrides.now ?? DEFAULT_NOW),
  };
}

/** A small deterministic PRNG (mulberry32), so "random" tests are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
