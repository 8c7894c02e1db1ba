import { z } from 'zod';
import { toIso } from '../platform/clock.ts';
import type { Application } from './app.service.ts';
import { parseRedirects } from './settings.ts';

/** An application on the management API and in `rekey apps … --json`: every setting, never a key. */
export const applicationObject = z
  .object({
    object: z.literal('application'),
    id: z.string(),
    name: z.string(),
    client_id: z.string(),
    is_default: z.boolean(),
    reset_url: z.string().nullable(),
    allowed_redirects: z.array(z.string()),
    sign_in_url: z.string().nullable(),
    support_email: z.string().nullable(),
    mail_from: z.string().nullable(),
    logo_url: z.string().nullable(),
    brand_color: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Application' });

export type WireApplication = z.infer<typeof applicationObject>;

export function toWireApplication(application: Application): WireApplication {
  return {
    object: 'application',
    id: application.id,
    name: application.name,
    client_id: application.client_id,
    is_default: application.is_default === 1,
    reset_url: application.reset_url,
    allowed_redirects: parseRedirects(application.allowed_redirects),
    sign_in_url: application.sign_in_url,
    support_email: application.support_email,
    mail_from: application.mail_from,
    logo_url: application.logo_url,
    brand_color: application.brand_color,
    created_at: toIso(application.created_at),
    updated_at: toIso(application.updated_at),
  };
}
