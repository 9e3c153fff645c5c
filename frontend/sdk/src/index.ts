export { KaleidoClient } from "./client.js";
export type { KaleidoClientOptions, RankOptions } from "./client.js";
export { KaleidoApiError, KaleidoUnavailableError } from "./errors.js";
export {
  FatigueTracker,
  LocalStorageFatigueStore,
  MemoryFatigueStore,
  defaultFatigueStore,
} from "./fatigue.js";
export type { FatigueOptions, FatigueStore } from "./fatigue.js";
export { backoffDelay } from "./http.js";
export type { FetchLike } from "./http.js";
export { newEventId } from "./ids.js";
export { cardStyles, contrastRatio, escapeHtml, readableTextOn, renderCard, renderItem, safeUrl } from "./render.js";
export type { RenderCardOptions } from "./render.js";
export { EventTracker, MAX_EVENTS_PER_REQUEST, toWireEvent } from "./tracker.js";
export type { CloseOptions, DeliveryFailure, DeliveryReport, FlushResult, RejectedEvent, TrackerOptions } from "./tracker.js";
export type * from "./types.js";
