/** The apps module's door: applications, their secret keys and redirect allow-lists. */
import { defineModule } from '../platform/module.ts';
import { createAppsModule } from './apps.module.ts';
import { appsMigrations } from './migrations.ts';

export { createAppsModule, type AppsModule } from './apps.module.ts';
export const appsModule = defineModule('apps', appsMigrations, createAppsModule);

export { allowedRedirects, REVOCATION_CHECK_MS, type ApiKeyRecord, type Application, type ApplicationService } from './app.service.ts';
export type { ApiKeysTable, ApplicationsTable } from './app.table.ts';
export { safeRedirect } from './redirects.ts';
export { applicationObject, toWireApplication, type WireApplication } from './app.wire.ts';
export { checkMailbox, signInUrl, type ApplicationSettings } from './settings.ts';
export { appsMigrations };
