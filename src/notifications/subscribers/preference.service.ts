import { sql } from 'kysely';
import type { PlatformDeps } from '../../deps.ts';
import { RekeyError } from '../../errors/index.ts';
import { compiled } from '../../store/compiled.ts';
import { checkSubscriberId } from './subscriber.schemas.ts';
import type { SubscriberService } from './subscriber.service.ts';
import type { SubscriberPreferencesTable } from './subscriber.table.ts';

/** The channels a subscriber can turn on or off (Novu's names). */
export const PREFERENCE_CHANNELS = ['email', 'sms', 'in_app', 'chat'] as const;
export type PreferenceChannel = (typeof PREFERENCE_CHANNELS)[number];

/** What preferences need to know of a workflow; the engine's registry provides the list. */
export interface WorkflowSummary {
  id: string;
  name: string;
  /** Critical workflows ignore preferences: their choices can be neither read as off nor changed. */
  critical: boolean;
  /** The channels its steps use. */
  channels: readonly string[];
}

export type ListWorkflows = () => readonly WorkflowSummary[] | Promise<readonly WorkflowSummary[]>;

export type ChannelChoices = Partial<Record<PreferenceChannel, boolean>>;

export interface WorkflowPreference {
  workflow: WorkflowSummary;
  enabled: boolean;
  /** The effective choice for each channel the workflow uses. */
  channels: ChannelChoices;
  /** The channels this subscriber chose for this workflow itself (not inherited from the global row). */
  chosen: PreferenceChannel[];
  updatedAt: number | null;
}

export interface Preferences {
  global: { enabled: true; channels: Record<PreferenceChannel, boolean> };
  workflows: WorkflowPreference[];
}

export type Criticality = 'critical' | 'nonCritical' | 'all';

export interface PreferenceService {
  /**
   * Whether `channel` may carry `workflowId`'s message to the subscriber: the subscriber's choice for that
   * workflow, else its global choice, else yes (also for an unknown subscriber). Critical workflows ignore
   * preferences: the engine does not ask for them.
   */
  channelAllowed(subscriberId: string, workflowId: string, channel: PreferenceChannel): Promise<boolean>;
  /** Global and per-workflow preferences; `subscriber_not_found` when absent. Novu lists non-critical workflows by default. */
  list(subscriberId: string, criticality?: Criticality): Promise<Preferences>;
  /**
   * Sets channels on or off for one workflow (`workflowId`) or for all (global); channels not named keep their
   * choice. `workflow_not_found` for an unknown workflow, `workflow_critical` for a critical one.
   */
  update(subscriberId: string, change: { workflowId?: string; channels: ChannelChoices }): Promise<Preferences>;
}

const GLOBAL = '';

type Choices = Pick<SubscriberPreferencesTable, PreferenceChannel>;

const forWorkflow = compiled<{ subscriber_id: string; workflow_id: string }, SubscriberPreferencesTable>((db, p) =>
  db
    .selectFrom('subscriber_preferences')
    .selectAll()
    .where('subscriber_id', '=', p.subscriber_id)
    .where((eb) => eb.or([eb('workflow_id', '=', GLOBAL), eb('workflow_id', '=', p.workflow_id)])),
);
const allOf = compiled<{ subscriber_id: string }, SubscriberPreferencesTable>((db, p) =>
  db.selectFrom('subscriber_preferences').selectAll().where('subscriber_id', '=', p.subscriber_id),
);
// A null choice keeps the stored one.
const choose = compiled<SubscriberPreferencesTable>((db, p) =>
  db
    .insertInto('subscriber_preferences')
    .values({
      subscriber_id: p.subscriber_id,
      workflow_id: p.workflow_id,
      email: p.email,
      sms: p.sms,
      in_app: p.in_app,
      chat: p.chat,
      updated_at: p.updated_at,
    })
    .onConflict((oc) =>
      oc.columns(['subscriber_id', 'workflow_id']).doUpdateSet({
        ...Object.fromEntries(
          PREFERENCE_CHANNELS.map((channel) => [channel, sql`coalesce(excluded.${sql.ref(channel)}, subscriber_preferences.${sql.ref(channel)})`]),
        ),
        updated_at: sql`excluded.updated_at`,
      }),
    ),
);

const decided = (value: number | null | undefined): boolean | undefined => (value === null || value === undefined ? undefined : value === 1);

/** The workflow row's choice, else the global row's, else on. */
const effective = (channel: PreferenceChannel, own: Choices | undefined, global: Choices | undefined): boolean =>
  decided(own?.[channel]) ?? decided(global?.[channel]) ?? true;

const usedChannels = (workflow: WorkflowSummary): PreferenceChannel[] => PREFERENCE_CHANNELS.filter((channel) => workflow.channels.includes(channel));

export function createPreferenceService(
  deps: Pick<PlatformDeps, 'store' | 'clock'> & { subscribers: SubscriberService; listWorkflows: ListWorkflows },
): PreferenceService {
  const { store, clock, subscribers, listWorkflows } = deps;
  const db = store.db;

  const service: PreferenceService = {
    async channelAllowed(subscriberId, workflowId, channel) {
      const rows = await forWorkflow.rows(db, { subscriber_id: subscriberId, workflow_id: workflowId });
      const own = rows.find((row) => row.workflow_id === workflowId && workflowId !== GLOBAL);
      const global = rows.find((row) => row.workflow_id === GLOBAL);
      return effective(channel, own, global);
    },

    async list(subscriberId, criticality = 'nonCritical') {
      const subscriber = await subscribers.getOrThrow(subscriberId);
      const rows = await allOf.rows(db, { subscriber_id: subscriber.subscriberId });
      const byWorkflow = new Map(rows.map((row) => [row.workflow_id, row]));
      const global = byWorkflow.get(GLOBAL);
      const workflows = (await listWorkflows()).filter((workflow) =>
        criticality === 'all' ? true : criticality === 'critical' ? workflow.critical : !workflow.critical,
      );
      return {
        global: {
          enabled: true,
          channels: Object.fromEntries(PREFERENCE_CHANNELS.map((c) => [c, effective(c, undefined, global)])) as Record<PreferenceChannel, boolean>,
        },
        workflows: workflows.map((workflow) => {
          const own = byWorkflow.get(workflow.id);
          const used = usedChannels(workflow);
          // What a critical workflow does: send, whatever was chosen.
          const channels = Object.fromEntries(used.map((c) => [c, workflow.critical || effective(c, own, global)])) as ChannelChoices;
          return {
            workflow,
            enabled: workflow.critical || used.length === 0 || used.some((c) => channels[c]),
            channels,
            chosen: workflow.critical ? [] : used.filter((c) => decided(own?.[c]) !== undefined),
            updatedAt: own ? Number(own.updated_at) : null,
          };
        }),
      };
    },

    async update(subscriberId, change) {
      checkSubscriberId(subscriberId);
      let workflowId = GLOBAL;
      if (change.workflowId !== undefined) {
        const workflow = (await listWorkflows()).find((w) => w.id === change.workflowId);
        if (!workflow) throw new RekeyError('workflow_not_found', { workflowId: change.workflowId });
        if (workflow.critical) throw new RekeyError('workflow_critical', { workflowId: workflow.id });
        workflowId = workflow.id;
      }
      await subscribers.getOrThrow(subscriberId);
      const choice = (channel: PreferenceChannel) => {
        const value = change.channels[channel];
        return value === undefined ? null : value ? 1 : 0;
      };
      try {
        await choose.execute(db, {
          subscriber_id: subscriberId,
          workflow_id: workflowId,
          email: choice('email'),
          sms: choice('sms'),
          in_app: choice('in_app'),
          chat: choice('chat'),
          updated_at: clock.now(),
        });
      } catch (error) {
        // Deleted between the check and the write: the foreign key refused the row.
        if (!(await subscribers.get(subscriberId))) throw new RekeyError('subscriber_not_found', { subscriberId });
        throw error;
      }
      return service.list(subscriberId);
    },
  };
  return service;
}
