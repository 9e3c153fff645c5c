export { KaleidoClient } from "./client.js";
export type { KaleidoClientOptions, RankOptions } from "./client.js";
export { CircuitBreaker } from "./circuit.js";
export { fallbackFromDesign } from "./design.js";
export type { DesignVariant } from "./design.js";
export { MockKaleidoClient } from "./mock.js";
export type { MockKaleidoClientOptions, MockRankAnswer } from "./mock.js";
export type { CircuitBreakerOptions, CircuitState } from "./circuit.js";
export { KaleidoApiError, KaleidoAuthError, KaleidoUnavailableError } from "./errors.js";
export type { UnavailableReason } from "./errors.js";
export type { Logger, LogLevel } from "./log.js";
export {
  FatigueTracker,
  LocalStorageFatigueStore,
  MemoryFatigueStore,
  defaultFatigueStore,
} from "./fatigue.js";
export type { AsyncFatigueStore, FatigueOptions, FatigueStore, RerankOutcome } from "./fatigue.js";
export { backoffDelay, parseRetryAfter } from "./http.js";
export type { FetchLike } from "./http.js";
export { newEventId } from "./ids.js";
export {
  cardStyles,
  contrastRatio,
  displayedLine,
  escapeHtml,
  readableTextOn,
  renderBanner,
  renderCard,
  renderItem,
  renderItemBanner,
  safeUrl,
} from "./render.js";
export type { RenderBannerOptions, RenderCardOptions } from "./render.js";
export { KaleidoValidationError, validateEvent } from "./validate.js";
export { EventTracker, MAX_EVENTS_PER_REQUEST, toWireEvent } from "./tracker.js";
export type { CloseOptions, DeliveryFailure, DeliveryReport, FlushResult, RejectedEvent, TrackerOptions } from "./tracker.js";
export type * from "./types.js";
