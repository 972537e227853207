// A small slice of the kill/resume campaign (scripts/kill-resume-campaign.mjs; the 100-run figure
// of issue 16 is run by hand): trainings killed with SIGKILL at random moments, resumed in place
// and into other directories, refused resumes and two writers racing for one directory. Every
// directory ends resumable to the bytes of an uninterrupted run, or refused with a message; no
// command modifies a directory it was not given as output. The first five runs cover every kind
// of action, so this slice does too.
import { describe, expect, it } from "vitest";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as campaignJs from "../scripts/kill-resume-campaign.mjs";

interface Summary {
  runs: number;
  commands: number;
  kills: number;
  killsLanded: number;
  dnncCommands: number;
  resumeInPlace: number;
  resumeToNew: number;
  refusedResumes: number;
  races: number;
  directories: number;
  outcomes: { identical: number; refusedNoCheckpoint: number; other: number };
  failures: string[];
}
const { runCampaign } = campaignJs as { runCampaign: (o: { runs: number; seed: number }) => Promise<Summary> };

describe("kill/resume campaign", () => {
  it("5 runs: no directory lost, corrupted or written without being named", async () => {
    // which actions a run takes depends on how earlier commands ended (killed or not), and kills
    // are timed from measured run times: on a fast or a loaded machine a slice may miss a kind of
    // action. Draw further seeds (up to eight in all) until every kind was exercised; every
    // campaign's invariants are checked.
    const total = { killsLanded: 0, dnncCommands: 0, resumeToNew: 0, refusedResumes: 0, races: 0, identical: 0 };
    for (let seed = 1; seed <= 8; seed++) {
      const s = await runCampaign({ runs: 5, seed });
      expect(s.failures).toEqual([]);
      expect(s.outcomes.other).toBe(0);
      expect(s.outcomes.identical + s.outcomes.refusedNoCheckpoint).toBe(s.directories);
      total.killsLanded += s.killsLanded;
      total.dnncCommands += s.dnncCommands;
      total.resumeToNew += s.resumeToNew;
      total.refusedResumes += s.refusedResumes;
      total.races += s.races;
      total.identical += s.outcomes.identical;
      if (Object.values(total).every((v) => v > 0)) break;
    }
    // the slices exercised what they claim to
    for (const [k, v] of Object.entries(total)) expect(v, k).toBeGreaterThan(0);
  }, 600_000);
});
