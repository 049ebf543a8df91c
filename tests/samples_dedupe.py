"""Texts for the near-duplicate tests: a wire story, its syndicated copy with the usual edits
(a rewritten first sentence, a dateline, a credit line), and a different story of the same
site written on the same template (shared boilerplate, same beat, similar length)."""

WIRE = """The central bank held its benchmark interest rate steady on Thursday, saying inflation was cooling more slowly than it had expected at the start of the year.

Policymakers voted seven to two to keep the rate at 4.25 percent, with the two dissenting members preferring a quarter-point cut to support a labour market that has shown signs of strain since the spring.

In a statement released after the meeting, the bank said price growth in services remained stubborn, driven by wage settlements in the public sector and higher rents in the largest cities. Goods inflation, by contrast, has fallen for five consecutive months as shipping costs eased and energy prices settled.

The governor told reporters that the committee would need to see several more months of data before it could be confident that inflation was on a path back to its two percent target. He declined to say whether a cut was likely at the next meeting in December, noting that the outlook depended heavily on how quickly wage growth slowed.

Financial markets had largely priced in the decision. The currency weakened slightly against the dollar after the vote split was published, as traders read the two dissents as a sign that the easing cycle could begin sooner than the bank's guidance suggested. Yields on two-year government bonds fell by four basis points.

Economists were divided on the outlook. Some argued that the bank risked keeping policy too tight for too long, pointing to a rise in company insolvencies and a slowdown in hiring by small firms. Others said the resilience of consumer spending over the summer gave policymakers room to wait.

The bank also published new forecasts showing growth of just under one percent next year, a small downgrade from its previous estimate, and unemployment rising to 4.8 percent by the end of 2026. It expects inflation to fall below three percent in the second quarter of next year before reaching target in early 2027.

Business groups welcomed the bank's caution but urged the government to do more to ease pressure on firms, including a review of employer taxes that rose in April. Trade unions said the decision would prolong the squeeze on households that are still paying far more for food and housing than before the pandemic.

The next policy decision is due on December 18, when the bank will also publish the minutes of Thursday's meeting."""

WIRE_SYNDICATED = """LONDON (Wire) - The central bank left its key interest rate unchanged on Thursday, warning that inflation was easing more slowly than forecast at the start of the year.

Policymakers voted seven to two to keep the rate at 4.25 percent, with the two dissenting members preferring a quarter-point cut to support a labour market that has shown signs of strain since the spring.

In a statement released after the meeting, the bank said price growth in services remained stubborn, driven by wage settlements in the public sector and higher rents in the largest cities. Goods inflation, by contrast, has fallen for five consecutive months as shipping costs eased and energy prices settled.

The governor told reporters that the committee would need to see several more months of data before it could be confident that inflation was on a path back to its two percent target. He declined to say whether a cut was likely at the next meeting in December, noting that the outlook depended heavily on how quickly wage growth slowed.

Financial markets had largely priced in the decision. The currency weakened slightly against the dollar after the vote split was published, as traders read the two dissents as a sign that the easing cycle could begin sooner than the bank's guidance suggested. Yields on two-year government bonds fell by four basis points.

Economists were divided on the outlook. Some argued that the bank risked keeping policy too tight for too long, pointing to a rise in company insolvencies and a slowdown in hiring by small firms. Others said the resilience of consumer spending over the summer gave policymakers room to wait.

The bank also published new forecasts showing growth of just under one percent next year, a small downgrade from its previous estimate, and unemployment rising to 4.8 percent by the end of 2026. It expects inflation to fall below three percent in the second quarter of next year before reaching target in early 2027.

Business groups welcomed the bank's caution but urged the government to do more to ease pressure on firms, including a review of employer taxes that rose in April. Trade unions said the decision would prolong the squeeze on households that are still paying far more for food and housing than before the pandemic.

The next policy decision is due on December 18, when the bank will also publish the minutes of Thursday's meeting.

(Reporting by Anna Berg; Editing by Tom Hale)"""

SAME_TEMPLATE_OTHER = """The central bank cut its benchmark interest rate on Thursday for the first time in four years, saying inflation had cooled faster than it had expected at the start of the year.

Policymakers voted six to three to lower the rate to 4.00 percent, with the three dissenting members preferring to hold until wage growth showed clearer signs of slowing in the public sector.

In a statement released after the meeting, the bank said the fall in goods prices had spread to services, where rents and energy bills have eased since the summer. The committee said it would move gradually and would not commit to a sequence of cuts.

The governor told reporters that a weaker labour market and falling business investment had tipped the balance. He said the committee would watch consumer spending over the winter closely before deciding whether to lower the rate again at its next meeting in February.

Financial markets had been split on the decision. The currency fell by more than one percent against the dollar after the announcement, and yields on two-year government bonds dropped by twelve basis points as traders added to bets on further easing next year.

Economists broadly welcomed the move. Several said the bank had waited too long and that the economy was already slowing sharply, citing a rise in company insolvencies and falling job vacancies. A minority warned that cutting too early risked a rebound in prices if energy costs rose again.

The bank also published new forecasts showing growth of 0.7 percent next year, a downgrade from its previous estimate, and unemployment rising to five percent by the end of 2026. It expects inflation to reach its two percent target by the end of next year.

Business groups said the cut would offer some relief to firms facing higher employer taxes, while trade unions said households still needed help with the cost of food and housing.

The next policy decision is due on February 5, when the bank will also publish the minutes of Thursday's meeting."""

SHORT_A = "Police closed the High Street on Monday after a water main burst near the station. Drivers were asked to avoid the area. Read more local news on our website. Sign up for our newsletter."
SHORT_B = "Police closed the High Street on Tuesday after a gas leak near the library. Drivers were asked to avoid the area. Read more local news on our website. Sign up for our newsletter."
