import type { Command } from 'commander';
import { z } from 'zod';
import { listQuery } from '../http/pagination.ts';
import { emailField, passwordField } from '../http/schemas.ts';
import { toWireUser, type User } from '../users/index.ts';
import { CliError, iso, note, printJson, printRecord, printTable, type CliContext } from './output.ts';
import { checkedBy, parsedBy } from './validate.ts';

/** The bound `POST /user_management/users` puts on `first_name` and `last_name`. */
const nameField = z.string().max(200);

/** `rekey users create|list`. */
export function registerUsersCommands(program: Command, ctx: CliContext): void {
  const users = program.command('users').description('manage users');

  users
    .command('create')
    .description('create a user (without a password unless --password-stdin is given)')
    // The same fields as `POST /user_management/users`: what the API refuses, the CLI refuses.
    .argument('<email>', 'email address, the login and reset identifier', parsedBy(emailField))
    // Never a --password flag: argv is visible to every local user through `ps` and lands in shell history.
    .option('--password-stdin', 'read the password from standard input (hidden prompt on a terminal)')
    .option('--first-name <name>', 'first name', parsedBy(nameField))
    .option('--last-name <name>', 'last name', parsedBy(nameField))
    .option('--verified', 'mark the email address as verified')
    .action(async (email: string, opts: { passwordStdin?: boolean; firstName?: string; lastName?: string; verified?: boolean }) => {
      const password = opts.passwordStdin ? checkedBy(passwordField, 'password', await readPassword()) : undefined;
      const user = await ctx.withRekey((rekey) =>
        rekey.users.create({
          email,
          ...(password !== undefined ? { password } : {}),
          firstName: opts.firstName ?? null,
          lastName: opts.lastName ?? null,
          emailVerified: Boolean(opts.verified),
        }),
      );
      if (ctx.json()) return printJson(toWireUser(user));
      printRecord({ id: user.id, email: user.email, verified: user.email_verified === 1, name: fullName(user), password: user.password_hash !== null });
    });

  users
    .command('list')
    .description('list users, newest first')
    .option('--limit <n>', 'how many (1–100)', parsedBy(listQuery.shape.limit), 20)
    .option('--email <email>', 'only the user with this email address', parsedBy(emailField))
    .option('--after <id>', 'continue after this user id (from the previous page)', parsedBy(listQuery.shape.after))
    .action(async (opts: { limit: number; email?: string; after?: string }) => {
      const page = await ctx.withRekey((rekey) =>
        rekey.users.list({ limit: opts.limit, order: 'desc', ...(opts.email ? { email: opts.email } : {}), ...(opts.after ? { after: opts.after } : {}) }),
      );
      if (ctx.json()) printJson(page.data.map(toWireUser));
      else
        printTable(
          page.data.map((u) => ({
            id: u.id,
            email: u.email,
            verified: u.email_verified === 1,
            name: fullName(u),
            password: u.password_hash !== null,
            disabled: u.disabled_at !== null,
            created_at: iso(u.created_at),
          })),
          'no users',
        );
      if (page.after) note(`more users: --after ${page.after}`);
    });
}

const fullName = (user: User): string => [user.first_name, user.last_name].filter(Boolean).join(' ');

/** The whole of stdin minus one trailing newline (`echo` adds it); a hidden prompt when stdin is a terminal. */
async function readPassword(): Promise<string> {
  const password = process.stdin.isTTY ? await promptHidden('Password: ') : await readStdin();
  if (password === '') throw new CliError('no password on standard input');
  return password;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new CliError('cancelled', 130));
          return;
        }
        value = ch === '\u007f' || ch === '\b' ? [...value].slice(0, -1).join('') : value + ch;
      }
    };
    stdin.on('data', onData);
  });
}
