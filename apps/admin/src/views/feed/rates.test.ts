import { describe, expect, it } from "vitest";
import { EventRates } from "./rates";

describe("the live feed's counters", () => {
  it("count per whole second of arrival: the last completed second, the busiest of the last minute, and totals", () => {
    const rates = new EventRates(() => 0);
    for (const at of [10_000, 10_100, 10_999]) rates.add("put", at);
    rates.add("delete", 10_500);
    rates.add("put", 11_200);

    expect(rates.lastSecond(10_900)).toEqual({ puts: 0, deletes: 0 }); // second 10 is still filling
    expect(rates.lastSecond(11_500)).toEqual({ puts: 3, deletes: 1 });
    expect(rates.lastSecond(12_000)).toEqual({ puts: 1, deletes: 0 });
    expect(rates.peak(12_000)).toEqual({ puts: 3, deletes: 1 });
    expect([rates.totalPuts, rates.totalDeletes]).toEqual([4, 1]);
    // A minute later the busy second has left the window; totals stay.
    expect(rates.peak(72_000)).toEqual({ puts: 0, deletes: 0 });
    expect([rates.totalPuts, rates.totalDeletes]).toEqual([4, 1]);
  });
});
