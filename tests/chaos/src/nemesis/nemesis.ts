import { sleep } from "@im-core/common";
import type { Deployment } from "../deployment.js";
import type { History } from "../history.js";
import { type FaultPlan, runFault } from "./faults.js";

/**
 * Injects the planned faults one after another, each healed before its quiet gap starts, and heals
 * everything at the end whatever happened (a fault whose heal failed is healed again there).
 */
export async function runNemesis(
  d: Deployment,
  history: History,
  plans: FaultPlan[],
  log: (line: string) => void,
): Promise<void> {
  for (const plan of plans) {
    const record = history.fault(plan.kind, "");
    try {
      record.detail = await runFault(d, plan, () => {
        record.injectMs = history.now();
      });
    } catch (error) {
      record.error = error instanceof Error ? error.message.split("\n")[0] : String(error);
      await d.healAll().catch((healError: unknown) => {
        record.error += `; heal: ${String(healError).split("\n")[0]}`;
      });
    }
    record.healMs = history.now();
    log(
      `[${(record.injectMs / 1000).toFixed(1)} s] ${plan.kind}: ${record.detail}${record.error ? ` (error: ${record.error})` : ""}`,
    );
    await sleep(plan.gapMs);
  }
  await d.healAll();
}
