// Event decoding into the canonical FlowhookEvent.
export {
  decodeEvent,
  decodeEventValue,
  derivedEventId,
  isRegistryFramed,
  isRetriableRegistryError,
  stableStringify,
  DEFAULT_MAX_EVENT_BYTES,
  type DecodeOptions,
  type DecodedEvent,
  type EventInputFormat,
  type SchemaRegistryDecoder,
} from './decode';
export { profileKey } from '../profile-key';
