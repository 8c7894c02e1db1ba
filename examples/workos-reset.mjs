// The official WorkOS SDK against Rekey: create a password reset, then confirm it with a new password.
//
//   KEY=$(npx rekey keys create) node examples/workos-reset.mjs ada@example.com
//
// KEY is a Rekey secret key; REKEY_URL is where Rekey listens (default http://127.0.0.1:8080). The user must
// exist (`npx rekey users create ada@example.com --password-stdin`).
import { WorkOS } from '@workos-inc/node';

const email = process.argv[2] ?? 'ada@example.com';
const rekey = new URL(process.env.REKEY_URL ?? 'http://127.0.0.1:8080');
if (!process.env.KEY) {
  console.error('Set KEY to a Rekey secret key: KEY=$(npx rekey keys create) node examples/workos-reset.mjs');
  process.exit(2);
}

const workos = new WorkOS(process.env.KEY, {
  apiHostname: rekey.hostname,
  port: Number(rekey.port || (rekey.protocol === 'https:' ? 443 : 80)),
  https: rekey.protocol === 'https:',
});

const reset = await workos.userManagement.createPasswordReset({ email });
console.log(`created ${reset.id} for ${reset.email}, valid until ${reset.expiresAt}`);
// Rekey also queued the reset mail: it shows up in the development mailbox a moment later.

const { user } = await workos.userManagement.resetPassword({ token: reset.passwordResetToken, newPassword: 'a new long passphrase 2026' });
console.log(`password changed for ${user.email}; every session of the account was revoked`);
