import type { AppsModule } from '../apps/index.ts';
import type { DeliveryModule } from '../delivery/index.ts';
import type { ModuleDeps } from '../platform/module.ts';
import { createEmailJob, EMAIL } from './email.job.ts';
import { createMailTemplates } from './mail-templates.ts';
import { createSubscribers, subscribersMigrations } from './subscribers/index.ts';

/** Messages: the mail templates and the job that renders one and hands it to the delivery channel. */
export async function createNotificationsModule(deps: ModuleDeps & { apps: AppsModule; delivery: DeliveryModule }) {
  const apps = deps.apps.service;
  const templates = createMailTemplates();
  const email = createEmailJob({
    templates,
    channel: deps.delivery.channel,
    tokens: deps.tokens,
    mailFrom: deps.config.mailFrom,
    resolveApp: (id: string | null | undefined) => (id ? apps.get(id) : apps.getDefault()),
  });
  // Until the workflow registry lands, preferences list no workflows (the global row still applies).
  const subscribers = createSubscribers({ ...deps, listWorkflows: () => [] });
  return {
    templates,
    subscribers: subscribers.service,
    routes: undefined,
    managementRoutes: subscribers.managementRoutes,
    jobs: { [EMAIL]: email },
    migrations: subscribersMigrations,
    expose: { subscribers: subscribers.service },
  };
}

export type NotificationsModule = Awaited<ReturnType<typeof createNotificationsModule>>;
