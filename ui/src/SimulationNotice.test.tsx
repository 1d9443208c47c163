import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { SimulationNotice } from './App';

describe('SimulationNotice', () => {
  it('says the embedded host simulates its nodes', () => {
    render(<SimulationNotice settings={{ host: 'embedded', simulatedNodes: 3 }} />);
    expect(screen.getByRole('note').textContent).toMatch(/3 nodes simulated by KWOK.*no container runs/);
  });
  it('says nothing for an external host', () => {
    const { container } = render(<SimulationNotice settings={{ host: 'external', simulatedNodes: 0 }} />);
    expect(container.textContent).toBe('');
  });
});
