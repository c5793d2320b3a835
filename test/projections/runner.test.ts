import { MemoryCheckpointStore, MemoryEventStore } from '@ordo/core';
import { checkpointStoreSuite, projectionRunnerSuite } from './runner-properties.js';

projectionRunnerSuite(async () => new MemoryEventStore());
checkpointStoreSuite(async () => new MemoryCheckpointStore());
