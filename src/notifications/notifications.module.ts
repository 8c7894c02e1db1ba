import type { FastifyPluginAsync } from 'fastify';
import type { AppsModule, Application } from '../apps/index.ts';
import type { CodeDelivery } from '../factors/index.ts';
import type { DeliveryModule } from '../delivery/index.ts';
import type { ModuleDeps } from '../platform/module.ts';
import { activityRoutes } from './activity.routes.ts';
import { createRenderer } from './content.ts';
import { createIdempotencyStore } from './idempotency.store.ts';
import { triggerRoutes } from './trigger.routes.ts';
import { createEngine, NOTIFICATION_STEP } from './engine.ts';
import { createExecutionStore } from './execution.store.ts';
import { notificationsMigrations } from './migrations.ts';
import { createWorkflowRegistry } from './registry.ts';
import { createNotificationService } from './notification.service.ts';
import { createStepJob } from './step.job.ts';
import { createSubscribers, subscribersMigrations } from './subscribers/index.ts';
import { createChatStep } from './steps/chat.step.ts';
import { runDelay } from './steps/delay.step.ts';
import { createEmailStep } from './steps/email.step.ts';
import { createInAppStep } from './steps/in-app.step.ts';
import type { Branding } from './steps/scope.ts';
import { createSmsStep } from './steps/sms.step.ts';
import { createThrottleStep } from './steps/throttle.step.ts';
import { BUILTIN, builtinWorkflows, layoutSource } from './workflows/builtins.ts';
import { createWorkflowCatalog } from './workflows/catalog.ts';
import { loadConfigWorkflows } from './workflows/operator.ts';
import { createWorkflowStore } from './workflows/workflow.store.ts';
import { workflowRoutes } from './workflows/workflows.routes.ts';

/** The engine: workflows, their templates, the step job the dispatcher runs, and the activity. */
export async function createNotificationsModule(deps: ModuleDeps & { apps: AppsModule; delivery: DeliveryModule }) {
  const { config, store } = deps;
  const apps = deps.apps.service;
  const builtins = builtinWorkflows();
  const registry = createWorkflowRegistry(builtins);
  const shipped = new Map(builtins.map((workflow) => [workflow.workflowId, workflow]));
  loadConfigWorkflows(registry, shipped, config.workflows);
  const startedAt = deps.clock.now();
  // Workflows saved over the API, shared by every node on this database.
  const catalog = createWorkflowCatalog({ ...deps, registry, store: createWorkflowStore(store.db), builtins: shipped });
  await catalog.start();
  const executions = createExecutionStore(store.db);
  const renderer = createRenderer(layoutSource());
  const defaultApp = await apps.getDefault();

  const branding = async (applicationId: string): Promise<Branding> => brandingOf((await apps.get(applicationId)) ?? defaultApp, config.mailFrom);
  const runners = {
    email: createEmailStep({ channel: deps.delivery.email, renderer, branding }),
    sms: createSmsStep({ sms: deps.delivery.sms, renderer, branding }),
    in_app: createInAppStep({ renderer, branding }),
    chat: createChatStep({ chat: deps.delivery.chat, renderer, branding }),
    delay: runDelay,
    throttle: createThrottleStep({ store, ...(config.redisUrl ? { rateLimits: deps.rateLimits } : {}) }),
  };
  const subscribers = createSubscribers({ ...deps, listWorkflows: () => registry.listWorkflows() });
  const wake = () => deps.delivery.dispatcher.wake();
  const engine = createEngine({ ...deps, registry, executions, wake, upsertSubscribers: (recipients) => subscribers.service.upsertWrites(recipients) });
  const stepJob = createStepJob({ ...deps, registry, catalog, executions, engine, runners, channelAllowed: subscribers.service.channelAllowed });
  const service = createNotificationService({ engine, registry, defaultApplicationId: defaultApp.id });

  // Second-factor codes (the factors module): mailed or texted through the critical `verification-code` workflow, to
  // the address the factor names. That address is not written to the subscriber: an SMS number being enrolled is
  // not yet proven.
  const codeDelivery: CodeDelivery = {
    verificationCode: (message) =>
      service.triggerWrites({
        workflowId: BUILTIN.verificationCode,
        to: [{ subscriberId: message.userId, ...(message.channel === 'sms' ? { phone: message.to } : { email: message.to }) }],
        upsert: false,
        locale: message.locale,
        applicationId: message.applicationId,
        payload: { code: message.code, channel: message.channel, expiresInMinutes: message.expiresInMinutes },
      }).writes,
  };

  const idempotency = createIdempotencyStore(store.db, () => deps.clock.now());
  const managementRoutes: FastifyPluginAsync = async (app) => {
    // Every Novu route sees the workflows as they are on every node, to within WORKFLOW_FRESHNESS_MS: no read at
    // all while the last revision check is that recent.
    app.addHook('onRequest', (_request, _reply, done) => {
      const checking = catalog.fresh();
      if (!checking) return done();
      checking.then(() => done(), done);
    });
    await app.register(subscribers.managementRoutes);
    const knows = (workflowId: string) => (registry.get(workflowId) ? undefined : catalog.check());
    const inactive = (workflowId: string) => registry.get(workflowId)?.active === false;
    await app.register(triggerRoutes, { engine, executions, subscribers: subscribers.service, idempotency, store, clock: deps.clock, knows, inactive, wake });
    await app.register(activityRoutes, { db: store.db, registry });
    await app.register(workflowRoutes, { registry, catalog, renderer, branding, startedAt });
  };

  return {
    service,
    codeDelivery,
    registry,
    catalog,
    subscribers: subscribers.service,
    routes: undefined,
    managementRoutes,
    jobs: { [NOTIFICATION_STEP]: stepJob },
    sweeps: { 'notification_idempotency.expired_deleted': (now: number) => idempotency.sweep(now) },
    migrations: { ...subscribersMigrations, ...notificationsMigrations },
    expose: { notifications: service, subscribers: subscribers.service, executions },
  };
}

/** The fields a message shows; `sign_in_url`, `support_email` and `mail_from` are optional application settings. */
function brandingOf(app: Application, mailFrom: string): Branding {
  const extra = app as Application & { sign_in_url?: string | null; support_email?: string | null; mail_from?: string | null };
  return {
    name: app.name,
    logo_url: app.logo_url,
    brand_color: app.brand_color,
    sign_in_url: extra.sign_in_url ?? null,
    support_email: extra.support_email ?? null,
    mailFrom: extra.mail_from || mailFrom,
  };
}

export type NotificationsModule = Awaited<ReturnType<typeof createNotificationsModule>>;
