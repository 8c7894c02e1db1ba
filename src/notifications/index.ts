/** The notifications module's door: mail templates and the typed mail job. */
import { defineModule } from '../platform/module.ts';
import { createNotificationsModule } from './notifications.module.ts';
import { subscribersMigrations } from './subscribers/index.ts';

export { createNotificationsModule, type NotificationsModule } from './notifications.module.ts';
export const notificationsModule = defineModule('notifications', subscribersMigrations, createNotificationsModule);

export { createEmailJob, EMAIL, emailJobSchema, type EmailJob, type EmailJobDeps, type MailBranding, type MailTemplateName } from './email.job.ts';
export { createMailTemplates, mailLang, MAIL_LANGS, type MailLang, type MailTemplates, type RenderedTemplate } from './mail-templates.ts';
export * from './subscribers/index.ts';
