import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { SimulationNotice } from './App';

describe('SimulationNotice', () => {
  it('says the embedded host simulates its nodes', () => {
    render(<SimulationNotice settings={{ host: 'embedded', simulatedNodes: 3 }} />);
    expect(screen.getByRole('note').textContent).toMatch(/3 nodes simulated by KWOK.*no\s+container runs/);
  });
  it('names the real node beside the simulated ones', () => {
    render(<SimulationNotice settings={{ host: 'embedded', simulatedNodes: 1, realNodes: ['real-node-1'] }} />);
    const text = screen.getByRole('note').textContent ?? '';
    expect(text).toMatch(/real-node-1 is a real node: containers run there/);
    expect(text).toMatch(/1 node simulated by KWOK/);
  });
  it('says only real when no node is simulated', () => {
    render(<SimulationNotice settings={{ host: 'embedded', simulatedNodes: 0, realNodes: ['real-node-1'] }} />);
    expect(screen.getByRole('note').textContent).not.toMatch(/KWOK/);
  });
  it('says nothing for an external host', () => {
    const { container } = render(<SimulationNotice settings={{ host: 'external', simulatedNodes: 0 }} />);
    expect(container.textContent).toBe('');
  });
});
