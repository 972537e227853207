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
    // kills are timed from measured run times, so on a fast or a loaded machine a few may all miss
    // their run: draw another seed then (up to three), every campaign's invariants checked
    let s = await runCampaign({ runs: 5, seed: 1 });
    for (let seed = 2; seed <= 3 && s.killsLanded === 0 && s.failures.length === 0; seed++) s = await runCampaign({ runs: 5, seed });
    expect(s.failures).toEqual([]);
    // the slice exercised what it claims to
    expect(s.killsLanded).toBeGreaterThan(0);
    expect(s.dnncCommands).toBeGreaterThan(0);
    expect(s.resumeToNew).toBeGreaterThan(0);
    expect(s.refusedResumes).toBeGreaterThan(0);
    expect(s.races).toBeGreaterThan(0);
    expect(s.outcomes.other).toBe(0);
    expect(s.outcomes.identical).toBeGreaterThan(0);
    expect(s.outcomes.identical + s.outcomes.refusedNoCheckpoint).toBe(s.directories);
  }, 300_000);
});
