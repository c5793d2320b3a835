import { MemoryEventStore } from '@ordo/core';
import { notificationsProperty, notificationsSuite } from './notification-properties.js';
import { channelIsolationCheck, notificationSenderProperty } from './notification-sender-properties.js';

notificationsSuite(async () => new MemoryEventStore());
notificationsProperty(async () => new MemoryEventStore());
notificationSenderProperty(async () => new MemoryEventStore(), { runs: 40 });
channelIsolationCheck(async () => new MemoryEventStore());
