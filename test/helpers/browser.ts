/**
 * The browser the page tests drive: Debian's Chromium through playwright-core, which downloads no
 * browser of its own. BERTH_TEST_CHROMIUM names another binary.
 */
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env['BERTH_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // The machine's network is closed: no background fetches, which would be refused by the dozen.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}
