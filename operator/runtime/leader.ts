/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
 * every retry period; a candidate takes the lease once it has seen no renewal for a lease
 * duration (measured on its own clock, so clock skew does not matter); a leader that cannot renew
 * within the renew deadline stops acting. Writes carry the resourceVersion read, so two
 * candidates never both win (409 → try again from a fresh read).
 */
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from '../../adapters/kubernetes/client.ts';
import { RESOURCES, type KubeObject } from '../resources.ts';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}
export type Lease = KubeObject<LeaseSpec>;

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  /** Called when leadership is lost (not renewed in time, or taken): stop acting at once. */
  onStoppedLeading?: () => void;
  logger?: Logger;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private leading = false;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private observed: { record: string; at: number } = { record: '', at: 0 };
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(private readonly client: KubeClient, private readonly o: LeaderElectionOptions) {
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  /** Stops competing; a leader releases the lease so a standby takes over without waiting it out. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.leading && release) {
      try {
        const lease = await this.client.get<Lease>(RESOURCES.lease, this.o.namespace, this.o.name);
        if (lease.spec.holderIdentity === this.o.identity) {
          await this.client.replace(RESOURCES.lease, this.o.namespace, this.o.name, { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(new Date()) } });
        }
      } catch (e) {
        this.o.logger?.warn({ err: String(e) }, 'could not release the lease');
      }
    }
    this.setLeading(false);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.retryMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = Date.now();
        this.setLeading(true);
      } else if (this.leading) {
        this.setLeading(false);
      }
    } catch (e) {
      this.o.logger?.debug({ err: String(e) }, 'lease update failed');
      if (this.leading && Date.now() - this.lastRenew > this.renewDeadlineMs) this.setLeading(false);
    }
    this.schedule();
  }

  /** true when we hold the lease after this call. Throws on API errors (retried next period). */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(RESOURCES.lease, this.o.namespace, this.o.name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await this.client.create(RESOURCES.lease, this.o.namespace, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { holderIdentity: this.o.identity, leaseDurationSeconds: Math.ceil(this.leaseMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (c) {
        if (isConflict(c)) return false; // someone else created it first
        throw c;
      }
    }
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${spec.leaseDurationSeconds ?? ''}`;
    if (record !== this.observed.record) this.observed = { record, at: Date.now() };
    const mine = spec.holderIdentity === this.o.identity;
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
    const expired = !spec.holderIdentity || this.observed.at + durationMs < Date.now();
    if (!mine && !expired) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
        renewTime: microTime(now),
        ...(mine ? {} : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      const written = await this.client.replace<Lease>(RESOURCES.lease, this.o.namespace, this.o.name, next);
      this.observed = { record: `${written.spec.holderIdentity ?? ''}|${written.spec.renewTime ?? ''}|${written.spec.leaseDurationSeconds ?? ''}`, at: Date.now() };
      return true;
    } catch (e) {
      if (isConflict(e)) return mine && Date.now() - this.lastRenew <= this.renewDeadlineMs ? this.leading : false;
      throw e;
    }
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.o.logger?.info({ identity: this.o.identity, leading: v }, v ? 'became leader' : 'stopped leading');
    if (v) this.o.onStartedLeading?.();
    else this.o.onStoppedLeading?.();
  }
}
