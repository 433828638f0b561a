import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistryDecoder } from './decode';

/**
 * Decodes Confluent-framed values (magic byte 0 + schema id; Avro or JSON Schema) through a
 * Confluent-API registry. The client caches schemas by id, so the registry is asked once
 * per schema, not per event.
 */
export function schemaRegistryDecoder(url: string): SchemaRegistryDecoder {
  const registry = new SchemaRegistry({ host: url });
  return { decode: (buf: Buffer) => registry.decode(buf) as Promise<unknown> };
}
