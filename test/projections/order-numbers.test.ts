import { MemoryEventStore } from '@ordo/core';
import { orderNumbersProperty, orderNumbersSuite } from './order-numbers-properties.js';

orderNumbersSuite(async () => new MemoryEventStore());
orderNumbersProperty(async () => new MemoryEventStore());
