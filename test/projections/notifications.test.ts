import { MemoryEventStore } from '@ordo/core';
import { notificationsProperty, notificationsSuite } from './notification-properties.js';

notificationsSuite(async () => new MemoryEventStore());
notificationsProperty(async () => new MemoryEventStore());
