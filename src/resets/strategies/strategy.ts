import type { Application } from '../../apps/index.ts';
import type { PlatformDeps } from '../../deps.ts';
import type { NotificationService } from '../../notifications/index.ts';
import type { BoundWrite } from '../../store/compiled.ts';
import type { User } from '../../users/index.ts';
import type { FlowStrategy, ResetFlow } from '../flow.ts';
import type { FlowStore } from '../flow.store.ts';
import type { ResetLimits } from '../limits.ts';
import type { ResetService } from '../reset.service.ts';
import type { ResetStore } from '../reset.store.ts';

/** What the `reset.requested` job knows once it has resolved an enabled account. */
export interface IssueContext {
  user: User;
  application: Application;
  /** The flow the request opened; null for the forgot endpoint, which opens none. */
  flowId: string | null;
  now: number;
  /** The page's locale, if the user asked on one. */
  locale: string | null;
}

export interface AttemptContext {
  ipAddress: string;
  userAgent?: string | null;
}

/**
 * A first factor of a reset, as Kratos registers its recovery strategies by id: what is mailed when a request
 * resolves an account, and how an attempt is checked. The flow service owns everything around it: the limits
 * per IP, the flow's state, the grant a passed factor earns and the second factor after it (SEC-36).
 */
export interface ResetStrategy<S extends FlowStrategy = FlowStrategy> {
  readonly id: S;
  /** How long a new flow waits for this factor: as long as what it mails is valid. */
  readonly ttlMs: number;
  /**
   * The writes that issue the factor to `user` and queue its mail. Delivery is at-least-once, so they are
   * returned, never committed here: they commit with the job's done mark, and a rerun starts from nothing.
   */
  issue(context: IssueContext): BoundWrite[];
  /**
   * An attempt typed into an open flow of this strategy (a code): the flow that passed, or a RekeyError. Every
   * attempt must do the same work whether or not anything was issued (SEC-02). A strategy whose secret finds
   * its own flow (a link) has none.
   */
  attempt?(flow: ResetFlow, secret: string, context: AttemptContext): Promise<ResetFlow>;
}

/** A link's token names its reset by itself: spending it finds (or opens) the flow it belongs to. */
export interface LinkRedemption {
  /** Spends the token (SEC-10, SEC-15) and returns the flow waiting for its first factor to pass. */
  redeem(token: string): Promise<ResetFlow>;
}

/** One strategy per `FLOW_STRATEGIES` id: a registry missing one does not compile. */
export type ResetStrategies = { readonly [S in FlowStrategy]: ResetStrategy<S> } & { readonly email_link: LinkRedemption };

export interface StrategyDeps extends PlatformDeps {
  flows: FlowStore;
  resets: ResetStore;
  resetService: Pick<ResetService, 'issueWrites' | 'voidTokens'>;
  limits: ResetLimits;
  defaultApplicationId(): Promise<string>;
  notifications: Pick<NotificationService, 'triggerWrites'>;
}
