import type { Page } from "playwright-core";

/**
 * What the page shows that fails the basics: a form field without a label, or visible text whose colour
 * has less than WCAG AA contrast with the background behind it (4.5:1; 3:1 for large text). Empty when
 * all is well. Runs in the page, on what Chromium computed.
 */
export function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const describe = (element: Element) =>
      `<${element.tagName.toLowerCase()}> "${(element.textContent ?? "").trim().slice(0, 40)}"`;

    for (const field of document.querySelectorAll("input, select, textarea")) {
      const labelled =
        (field as HTMLInputElement).labels?.length ||
        field.getAttribute("aria-label") ||
        field.getAttribute("aria-labelledby");
      if (!labelled) problems.push(`no label: ${field.outerHTML.slice(0, 80)}`);
    }

    const channels = (color: string) => (color.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r = 0, g = 0, b = 0]: number[]) => {
      const linear = (c: number) =>
        c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4;
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const backgroundOf = (element: Element | null): number[] => {
      for (let at = element; at; at = at.parentElement) {
        const [r, g, b, alpha = 1] = channels(getComputedStyle(at).backgroundColor);
        if (alpha > 0) return [r ?? 255, g ?? 255, b ?? 255];
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!element || (node.textContent ?? "").trim() === "" || !element.checkVisibility()) continue;
      if (element.closest(".skip-link, .visually-hidden")) continue;
      const style = getComputedStyle(element);
      // Disabled controls are exempt from the contrast rule (WCAG 1.4.3).
      if (element.closest("button:disabled")) continue;
      const [l1, l2] = [luminance(channels(style.color)), luminance(backgroundOf(element))].sort(
        (a, b) => b - a,
      );
      const ratio = (l1! + 0.05) / (l2! + 0.05);
      const large =
        Number.parseFloat(style.fontSize) >= 24 ||
        (Number.parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}:1 for ${describe(element)}`);
    }
    return problems;
  });
}
