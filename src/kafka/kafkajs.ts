// The one module that loads kafkajs: it installs flowhook's replacement for kafkajs's
// quadratic partition grouping first (see partition-grouping.ts). Types come from 'kafkajs'
// directly; values come from here.
import { preloadPartitionGrouping } from './partition-grouping';

preloadPartitionGrouping();

// eslint-disable-next-line @typescript-eslint/no-restricted-imports -- this is the one place
export { AssignerProtocol, ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
