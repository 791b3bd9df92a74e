// The generic protocol suites: every protocol of the registry x each of its families x every
// system under test gets the same cases. A spec opts out of a case only with a stated reason.
import type { ConntrackEntry, EntryInput } from '../../harness/conntrack/entry.ts';
import { normalizeKey } from '../../harness/conntrack/entry.ts';
import { ConntrackCli } from '../../harness/conntrack/oracle.ts';
import { expectIdentities } from '../../harness/fixtures/identity.ts';
import { describe, expect } from '../../harness/fixtures/index.ts';
import { PRIMARY_SYSTEMS, systemTest, type SystemContext } from '../../harness/fixtures/systems.ts';
import { PROTOCOL_SPECS, type GenericCase, type ProtocolSpec } from '../../harness/protocols/index.ts';

const N = 6;

function caseTest(test: ReturnType<typeof systemTest>, spec: ProtocolSpec, name: GenericCase, title: string,
  fn: (ctx: SystemContext) => Promise<void>) {
  const reason = spec.unsupported?.[name];
  if (reason) {
    test.skip(`${title} (skipped: ${reason})`, () => {});
    return;
  }
  test(title, async ({ sut, oracle, zone, neighbourZone, neighbourNetns, netns }) => {
    await fn({ sut, oracle, zone, neighbourZone, neighbourNetns, netns });
  });
}

for (const variant of PRIMARY_SYSTEMS) {
  const test = systemTest(variant);
  for (const spec of PROTOCOL_SPECS) {
    for (const family of spec.families) {
      describe(`${spec.name} ${family} [${variant.name}]`, () => {
        /**
         * Creates N samples in the zone through the oracle (spec.oracleArgs), the same tuples in the
         * neighbour zone and in the neighbour namespace; returns a check for "exactly `left` remain".
         */
        async function seed(ctx: SystemContext) {
          const mine = spec.samples({ family, zone: ctx.zone, count: N });
          const neighbour = mine.map((e) => ({ ...e, zone: ctx.neighbourZone }));
          await ctx.oracle.createMany([...mine, ...neighbour], spec.oracleArgs);
          const other = new ConntrackCli({ netns: ctx.neighbourNetns.name });
          await other.createMany(mine, spec.oracleArgs);
          const expectLeft = async (left: EntryInput[]) => {
            expectIdentities(spec, await ctx.sut.list({ zone: ctx.zone }), left, 'zone, listed by the system under test');
            expectIdentities(spec, await ctx.oracle.list({ zone: ctx.zone }), left, 'zone, listed by the oracle');
            expectIdentities(spec, await ctx.oracle.list({ zone: ctx.neighbourZone }), neighbour, 'neighbour zone');
            expectIdentities(spec, await other.list(), mine, 'neighbour namespace');
          };
          return { mine, expectLeft };
        }

        caseTest(test, spec, 'list', 'lists exactly what was created', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          const listed: ConntrackEntry[] = await ctx.sut.list({ zone: ctx.zone });
          for (const e of listed) {
            expect(e).toMatchObject({ family, protocol: spec.protocol, zone: ctx.zone });
          }
          await expectLeft(mine);
        });

        caseTest(test, spec, 'delete-one', 'deletes one entry, the rest stay', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          const result = await ctx.sut.delete([mine[2]!]);
          expect(result.deleted).toHaveLength(1);
          expect(result.notFound).toEqual([]);
          expect(result.failed).toEqual([]);
          await expectLeft(mine.filter((_, i) => i !== 2));
        });

        caseTest(test, spec, 'delete-several', 'deletes several in one call', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          const result = await ctx.sut.delete([mine[0]!, mine[3]!, mine[5]!]);
          expect(result.deleted).toHaveLength(3);
          expect(result.notFound).toEqual([]);
          await expectLeft(mine.filter((_, i) => ![0, 3, 5].includes(i)));
        });

        caseTest(test, spec, 'delete-all', 'deletes all of them', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          const listed = await ctx.sut.list({ zone: ctx.zone });
          // The output of list feeds straight back into delete.
          const result = await ctx.sut.delete(listed);
          expect(result.deleted).toHaveLength(N);
          expect(result.failed).toEqual([]);
          void mine;
          await expectLeft([]);
        });

        caseTest(test, spec, 'delete-missing', 'reports an entry that is not there as notFound', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          const absent = spec.samples({ family, zone: ctx.zone, count: N + 1 })[N]!;
          const result = await ctx.sut.delete([absent, mine[1]!]);
          expect(result.notFound).toEqual([normalizeKey(absent)]);
          expect(result.deleted).toEqual([normalizeKey(mine[1]!)]);
          expect(result.failed).toEqual([]);
          await expectLeft(mine.filter((_, i) => i !== 1));
        });

        caseTest(test, spec, 'zone-isolation', 'identical tuples in the neighbour zone survive', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          await ctx.sut.delete(mine);
          // expectLeft checks the neighbour zone still holds every identical tuple.
          await expectLeft([]);
        });

        caseTest(test, spec, 'netns-isolation', 'identical tuples in the neighbour namespace survive', async (ctx) => {
          const { mine, expectLeft } = await seed(ctx);
          await ctx.sut.flush({ zone: ctx.zone });
          await ctx.sut.delete(mine.map((e) => ({ ...e, zone: ctx.neighbourZone })));
          const other = new ConntrackCli({ netns: ctx.neighbourNetns.name });
          expectIdentities(spec, await other.list({ zone: ctx.zone }), mine, 'neighbour namespace');
          expect(await ctx.oracle.count()).toBe(0);
          void expectLeft;
        });

        caseTest(test, spec, 'flush-zone', 'flushes its zone only', async (ctx) => {
          const { expectLeft } = await seed(ctx);
          expect(await ctx.sut.flush({ zone: ctx.zone })).toBe(N);
          await expectLeft([]);
        });

        caseTest(test, spec, 'create-by-client', 'creates entries the oracle then lists', async (ctx) => {
          const mine = spec.samples({ family, zone: ctx.zone, count: N });
          await ctx.sut.create(mine);
          expectIdentities(spec, await ctx.oracle.list({ zone: ctx.zone }), mine, 'created, listed by the oracle');
          expectIdentities(spec, await ctx.sut.list({ zone: ctx.zone }), mine, 'created, listed by the system under test');
          expect(await ctx.oracle.count({ zone: ctx.neighbourZone })).toBe(0);
        });
      });
    }
  }
}
