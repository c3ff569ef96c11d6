/**
 * Streams (API.md "Streams"), plugged into the core's seams (runtime/features.ts): grain
 * members by declaration merging, the system message `$stream.deliver`, a grain type feature
 * checking `static implicitStreams`, and a per-host backend over a stream provider
 * (runtime/stream-storage.ts). Silos run a `StreamService` that delivers the streams they own.
 * Importing this module registers the feature (runtime/index.ts does).
 */
import './grain-members.js';
import './deliver.js';
import './journal-bridge.js';
export { DELIVER_MESSAGE as STREAM_DELIVER_MESSAGE, IMPLICIT_METHOD as STREAM_IMPLICIT_METHOD } from './deliver.js';
export { attachStreamBackend, providerStreamBackend, publishTo, streamBackendOf, providerError as streamProviderError } from './backend.js';
export type { StreamBackend, StreamSubscriptionListener } from './backend.js';
export { implicitSubscribers } from './grain-members.js';
export { STREAM_RETRY_DEFAULTS, StreamService, streamOwner } from './service.js';
export type { StreamCounters, StreamRetryPolicy, StreamServiceOptions } from './service.js';
export { followStream } from './follow.js';
export type { FollowStreamOptions, StreamFollower } from './follow.js';
export { checkFrom, checkStreamName, encodeStreamItem } from './model.js';
export type {
  ClientStream, ClientStreamSubscription, GrainStream, StreamItemMeta, StreamSubscribeOptions, StreamSubscriptionHandle,
} from './model.js';
