#!/usr/bin/env python3
"""Build the hand-written emotion sentence data sets.

Writes (relative to the repository root):
  interp/data/emotions_baseline.jsonl  -- 70 sentences per emotion (280 lines)
  interp/data/emotions_extended.jsonl  -- 100 further sentences per emotion (400 lines)
  interp/data/steering_prompts.jsonl   -- 40 neutral prompt prefixes

Every sentence is written by hand below. Spans are never typed by hand: for
each emotional sentence the script finds the single emotion word of its own
lexicon with a case-insensitive word-boundary regex and records its
[start, end) character offsets. All validation rules are checked before any
file is written; if any rule fails the script prints every failure and exits
with status 1.

Standard library only; deterministic output; UTF-8, "\\n" line endings.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "interp" / "data"
BASELINE_PATH = DATA_DIR / "emotions_baseline.jsonl"
EXTENDED_PATH = DATA_DIR / "emotions_extended.jsonl"
PROMPTS_PATH = DATA_DIR / "steering_prompts.jsonl"

EMOTIONS = ("gratitude", "anger", "apology", "neutral")
N_BASELINE = 70
N_EXTENDED = 100
N_PROMPTS = 40
MIN_WORDS, MAX_WORDS = 7, 12

# Allowed span words: the emotion word a sentence is built around must be
# exactly one of these (case-insensitive, whole word).
LEXICON = {
    "gratitude": ["thank", "thanks", "thankful", "grateful", "gratitude",
                  "appreciate", "appreciated", "appreciative"],
    "anger": ["angry", "furious", "mad", "enraged", "outraged", "livid",
              "irate", "annoyed", "infuriated", "irritated", "resent",
              "rage", "fuming"],
    "apology": ["sorry", "apologize", "apologise", "apologies", "apology",
                "apologizing", "regret", "forgive"],
}

# Broader stem patterns per emotion, used to make sure a sentence carries
# exactly one emotion word of its own emotion (no inflected extras such as
# "apologized") and none of any other emotion.
STEMS = {
    "gratitude": [r"thank\w*", r"grateful\w*", r"gratitude", r"appreciat\w*"],
    "anger": [r"anger\w*", r"angr\w*", r"furious\w*", r"fury", r"mad",
              r"madder", r"enrag\w*", r"outrag\w*", r"livid\w*", r"irate\w*",
              r"annoy\w*", r"infuriat\w*", r"irritat\w*", r"resent\w*",
              r"rage", r"rages", r"raging", r"fuming", r"seething"],
    "apology": [r"sorry", r"sorrier", r"apolog\w*", r"regret\w*",
                r"forgiv\w*"],
}

# Other strongly emotional words that neutral sentences and prompts must avoid.
STRONG_WORDS = [
    r"happ(?:y|ier|iest|ily|iness)", r"unhappy", r"sad\w*", r"lov(?:e|ed|es|ing|ely)",
    r"hat(?:e|ed|es|ing|red)", r"glad\w*", r"upset\w*", r"afraid", r"scar(?:ed|y)",
    r"fear\w*", r"joy\w*", r"excit\w*", r"thrill\w*", r"delight\w*",
    r"miserabl\w*", r"terribl\w*", r"awful\w*", r"wonderful\w*", r"pleas\w*",
    r"cry", r"cries", r"cried", r"crying", r"tears?", r"nervous\w*", r"proud\w*",
    r"asham\w*", r"worr\w*", r"anxi\w*", r"lonel\w*", r"grie\w*", r"disgust\w*",
    r"jealous\w*", r"envy", r"envious", r"shame\w*", r"guilt\w*", r"depress\w*",
    r"hurt\w*", r"pain", r"pains", r"painful\w*", r"heartbr\w*", r"bitter\w*", r"frustrat\w*",
    r"disappoint\w*", r"hope\w*", r"hopeful\w*", r"kind\w*", r"cruel\w*",
    r"blame\w*", r"damn\w*", r"hell", r"wow", r"amazing", r"horribl\w*",
    r"embarrass\w*", r"panic\w*", r"calm\w*", r"tense", r"rude\w*", r"lie",
    r"lied", r"lying", r"mistake\w*", r"fault\w*", r"excuse\w*", r"pardon\w*",
    r"oops",
]


def _compile(words):
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


LEXICON_RE = {e: _compile([re.escape(w) for w in ws]) for e, ws in LEXICON.items()}
STEM_RE = {e: _compile(ps) for e, ps in STEMS.items()}
STRONG_RE = _compile(STRONG_WORDS)

# ---------------------------------------------------------------------------
# Hand-written sentences
# ---------------------------------------------------------------------------

BASELINE = {
    "gratitude": [
        "Thank you so much for helping me move today.",
        "I am deeply grateful for everything you did this week.",
        "We really appreciate the extra hours you put into the project.",
        "Thanks for picking up the kids from school yesterday.",
        "She felt thankful that her neighbor had shoveled the driveway.",
        "The team sent a card to express their gratitude to the nurses.",
        "Your patience with my endless questions was truly appreciated.",
        "He wrote a long letter to thank his old teacher.",
        "I'm grateful you stayed late to fix the printer.",
        "You lent me your car all weekend, and I'm grateful.",
        "My parents are thankful for the support of their community.",
        "We want to thank everyone who volunteered at the food drive.",
        "I appreciate you listening to me vent after work.",
        "The villagers were grateful when the bridge was finally repaired.",
        "Thanks a lot for covering my shift on Saturday.",
        "She smiled and said she was grateful for the second chance.",
        "Our family is thankful for the doctors who treated my father.",
        "I can't thank you enough for the birthday dinner last night.",
        "The coach said he appreciated the players' effort in the rain.",
        "With deep gratitude, we accept this award on behalf of everyone.",
        "Thank you for returning my wallet with everything still inside.",
        "He was grateful that the storm missed his small farm.",
        "You answered my email so quickly, which I really appreciate.",
        "Thanks for the ride, I would have missed my flight otherwise.",
        "The students felt appreciative of the librarian's help with research.",
        "We are so thankful the surgery went smoothly.",
        "Please accept my sincere gratitude for your generous donation.",
        "I just wanted to thank you for being such a good friend.",
        "Grateful for the quiet morning, she sat on the porch with coffee.",
        "Your words at the memorial service were deeply appreciated.",
        "Thanks, Mom, for always believing in me.",
        "The refugees expressed gratitude to the families who hosted them.",
        "I'm thankful my brother was there when I needed him.",
        "They appreciate every customer who walks through the door.",
        "Thank you for your patience while we fixed the website.",
        "After the fire, the town was grateful to the volunteer firefighters.",
        "I appreciate that you told me the truth.",
        "You saved me a seat at the concert, thanks.",
        "She felt a wave of gratitude as the crowd applauded her.",
        "The old man was thankful for the stranger who carried his bags.",
        "We are grateful to our readers for twenty years of support.",
        "Honestly, I appreciate you taking the time to explain this.",
        "Thank you, officer, for helping us find our lost dog.",
        "He nodded, grateful for the warm blanket and hot soup.",
        "Your help with the garden was greatly appreciated this spring.",
        "Thanks for the notes from the lecture I missed.",
        "I feel so thankful to have such caring colleagues.",
        "The mayor offered her gratitude to the city workers.",
        "We appreciate your feedback and will use it to improve.",
        "Thank you for teaching me how to ride a bike.",
        "She is grateful that her scholarship covers all her tuition.",
        "Thanks again for watching the cat while we traveled.",
        "Every morning he feels thankful simply to be healthy.",
        "The charity appreciated the anonymous gift of ten thousand dollars.",
        "I'm so grateful you remembered my favorite cake.",
        "Thank you for fixing the leak before the ceiling collapsed.",
        "Our gratitude goes out to everyone who searched for the missing hiker.",
        "My grandmother was appreciative of every small visit we made.",
        "Thanks for always making time for me, even when you're busy.",
        "I'm thankful the bus driver waited for me this morning.",
        "They were grateful for the shelter during the long winter night.",
        "That was such a thoughtful gift, thank you!",
        "The patients appreciate the nurses who work through the night.",
        "He felt genuine gratitude toward the mentor who hired him.",
        "Before the exam, she wrote to thank me for my notes.",
        "I am truly grateful for your friendship over all these years.",
        "We were thankful that nobody was hurt in the accident.",
        "You drove all this way to see me, and I appreciate it.",
        "Thank you for trusting me with such an important job.",
        "Looking back, she was grateful for every hard lesson.",
    ],
    "anger": [
        "I am furious that you read my private messages.",
        "He was so angry he slammed the door behind him.",
        "The customers were outraged by the sudden price increase.",
        "She gets annoyed when people chew with their mouths open.",
        "My dad was livid when he saw the dent in his car.",
        "It makes me mad that nobody cleaned up after the party.",
        "The fans were enraged by the referee's call in the final minute.",
        "I resent being treated like a child by my manager.",
        "Irate passengers shouted at the gate agent for ten minutes.",
        "Honestly, I'm irritated that the meeting started late again.",
        "Fuming after a two-hour wait, he called the repair company again.",
        "The decision to close the library infuriated the whole town.",
        "She shook with rage when she read the comments online.",
        "Angry protesters gathered outside city hall on Monday.",
        "I'm so mad at my brother for breaking my guitar.",
        "The workers were furious about losing their overtime pay.",
        "The neighbors played loud music all night, and it annoyed him.",
        "Parents were outraged when the school canceled recess.",
        "Livid about the missed deadline, my boss called an emergency meeting.",
        "Why are you always so angry when I ask a simple question?",
        "Irritated by the construction noise, she closed every window in the house.",
        "The referee's decision left the coach absolutely furious.",
        "I really resent how you spoke to my mother.",
        "He stormed out of the room in a blind rage.",
        "The villagers were enraged that the factory had poisoned the river.",
        "Don't get mad, but I scratched your new car.",
        "The driver was fuming after someone stole his parking spot.",
        "I'm absolutely livid that they deceived us again.",
        "The tenants grew angry as the heat stayed off for weeks.",
        "It really infuriated me when he took credit for my work.",
        "She sent an irate email to the airline about her lost luggage.",
        "Their comments at dinner left me absolutely furious.",
        "My phone updates in the middle of work, and I get annoyed.",
        "The senator was outraged by the leaked report.",
        "Why do you always make me so mad?",
        "He was angry that his sister had spent his savings.",
        "The crowd's rage grew as the concert was delayed again.",
        "My mother was furious that I came home at three.",
        "The students were irritated by the surprise quiz on Friday.",
        "I resent having to clean up everyone else's mess.",
        "Shoppers were livid when the store ran out of the advertised deal.",
        "He gets mad whenever someone touches his records.",
        "The chef was enraged to find the kitchen in complete chaos.",
        "Her constant interruptions left the speaker visibly annoyed.",
        "The fans booed, angry that the star player was benched.",
        "I'm fuming because the bank charged me another hidden fee.",
        "The residents are outraged that the park will become a parking lot.",
        "She was furious when she discovered the broken promise.",
        "The long line at the post office left him irritated.",
        "He was infuriated by the lazy excuses from the contractor.",
        "I was so angry I couldn't even speak.",
        "The irate customer demanded to see the manager immediately.",
        "Stop making things up, it makes me furious!",
        "My sister is still mad about the ruined sweater.",
        "The night shift workers resent the new policy on overtime.",
        "The farmers were livid about the new water restrictions.",
        "He clenched his fists, angry at the unfair verdict.",
        "The journalist was outraged by the cover-up at the agency.",
        "The dripping sink has kept me annoyed all week long.",
        "Enraged by the truth about the affair, she left the house.",
        "Furious about the double-booked tickets, we demanded a refund at the counter.",
        "I'm irritated that you never answer your phone.",
        "The old man was fuming at the kids trampling his garden.",
        "My friend got angry when I forgot her birthday again.",
        "Outraged voters flooded city hall over the mayor's secret pay raise.",
        "He was mad that the game was canceled because of rain.",
        "The pilot's delay announcement left the passengers livid.",
        "She felt a surge of rage at the unfair accusation.",
        "The cat's constant scratching at the door annoyed everyone.",
        "You broke your promise again, and I am angry.",
    ],
    "apology": [
        "I'm sorry for missing your birthday party last weekend.",
        "I apologize for the delay in answering your email.",
        "Please forgive me for the harsh things I said yesterday.",
        "He offered a sincere apology to everyone he had let down.",
        "We regret any inconvenience caused by the road closure.",
        "She was sorry she had forgotten to call her grandmother.",
        "My apologies for interrupting, but your taxi is here.",
        "I want to apologize for my behavior at dinner.",
        "Sorry about the mess, we just moved in.",
        "The company issued a public apology for the data breach.",
        "I deeply regret not telling you the truth sooner.",
        "He kept apologizing for stepping on my foot.",
        "Forgive me for being late, the traffic was heavy.",
        "I'm so sorry that your flight was canceled.",
        "The airline sent an apology to every passenger on the delayed flight.",
        "We apologize for any confusion caused by the earlier message.",
        "I broke your favorite mug this morning, and I'm sorry.",
        "She wrote a letter to apologise for her behavior at the wedding.",
        "Sincere apologies for the error on your invoice.",
        "I truly regret the things I said to you.",
        "You have to forgive me, I completely forgot about our lunch.",
        "The waiter was sorry for bringing the wrong order twice.",
        "He never learned how to apologize when he was wrong.",
        "Our apologies, the store will be closed for repairs today.",
        "I'm sorry for everything I put you through last year.",
        "The minister made a formal apology to the victims' families.",
        "We regret to inform you that your application was unsuccessful.",
        "Sorry, I didn't mean to wake you up so early.",
        "Can you ever forgive me for missing the wedding?",
        "I must apologize for my late reply to your invitation.",
        "The driver was sorry for splashing mud on the pedestrians.",
        "She kept apologizing for the burned casserole all evening.",
        "I regret shouting at my coach after the game.",
        "Apologies for the confusion with your order, we are fixing it now.",
        "If my joke offended you, I am truly sorry.",
        "The principal had to apologize to the parents about the bus schedule.",
        "For doubting you, I owe you an apology.",
        "Sorry for the late notice, but the meeting is moved to Friday.",
        "She begged her friend to forgive her for the broken promise.",
        "We sincerely regret the error in last week's newsletter.",
        "I'm really sorry I forgot to feed your fish.",
        "The hotel manager came to apologize for the noisy room.",
        "My apologies, I must have dialed the wrong number.",
        "He was sorry he had doubted his brother's honesty.",
        "The chef sent out free dessert along with an apology.",
        "I regret that I couldn't be there for your graduation.",
        "Forgive me, I didn't recognize you with the new haircut.",
        "The captain stood up to apologize for his teammate's outburst.",
        "I took your parking space this morning, and I'm sorry.",
        "We apologise for the late running of this train service.",
        "She offered her apologies for leaving the party so early.",
        "I'm sorry you had to wait so long for the doctor.",
        "Mark spent an hour apologizing to his girlfriend after the argument.",
        "Missing your big presentation is something I sincerely regret.",
        "Sorry to bother you, but do you have the time?",
        "He asked his mother to forgive him for crashing the car.",
        "The website posted an apology for the outage on Tuesday.",
        "I'm truly sorry for the trouble I caused your family.",
        "Let me apologize again for spilling coffee on your notes.",
        "Our apologies for the noise during the construction next door.",
        "I regret saying those things about your cooking.",
        "The little boy said he was sorry for breaking the window.",
        "I wonder if you can forgive me for reading your diary.",
        "The speaker opened her talk with an apology for arriving late.",
        "I must have left your book on the bus, sorry.",
        "We apologize for the long wait on the customer service line.",
        "She said she would always regret missing her father's last call.",
        "I'm sorry the package you ordered arrived damaged.",
        "He came over with flowers, apologizing for his careless comment.",
        "My typing is slow since I broke my wrist, so forgive me.",
    ],
    "neutral": [
        "The train leaves the station at nine every morning.",
        "My sister works as an accountant in a small firm.",
        "The library closes at six on weekdays and noon on Saturdays.",
        "We bought two loaves of bread and a carton of milk.",
        "The meeting has been moved to the second floor conference room.",
        "Water boils at one hundred degrees Celsius at sea level.",
        "He parks his car behind the building every day.",
        "The recipe calls for three eggs and a cup of flour.",
        "Our office is located next to the post office.",
        "The bus to the airport runs every twenty minutes.",
        "She usually takes the stairs instead of the elevator.",
        "The museum has a new exhibit on ancient pottery.",
        "I need to renew my passport before the end of March.",
        "The children walk to school along the river path.",
        "Tomorrow's forecast calls for light rain in the afternoon.",
        "The printer on the third floor uses black ink only.",
        "They moved to a larger apartment across town last spring.",
        "The store sells fresh vegetables from local farms.",
        "My neighbor mows his lawn every Sunday morning.",
        "The report is due on the last Friday of the month.",
        "An average adult human has thirty-two permanent teeth.",
        "The package should arrive sometime between Tuesday and Thursday.",
        "He drinks a cup of black coffee with breakfast.",
        "The hotel offers a shuttle to the convention center.",
        "The bridge was built in the early nineteen sixties.",
        "We usually eat dinner around seven in the evening.",
        "The new software update changes the layout of the menu.",
        "Most of the guests arrived by car or taxi.",
        "The city council meets on the first Monday of each month.",
        "She keeps her notes in a blue spiral notebook.",
        "The highway will be resurfaced over the next two weeks.",
        "Our cat sleeps on the windowsill in the afternoon.",
        "The bakery opens at six and closes after lunch.",
        "Is the pharmacy on Main Street open on Sundays?",
        "The recipe takes about forty minutes from start to finish.",
        "He changed the oil in his truck last weekend.",
        "The company has offices in Chicago, Denver, and Austin.",
        "I put the folders in the top drawer of the desk.",
        "The river flows south toward the coast.",
        "The class starts at ten and ends at noon.",
        "Students can borrow up to five books at a time.",
        "My brother plays the trumpet in the school band.",
        "The laundry room is in the basement of the building.",
        "She ordered a salad and a glass of iced tea.",
        "The train to Boston stops at four stations along the way.",
        "We planted tomatoes and peppers in the backyard garden.",
        "The shop on the corner repairs watches and clocks.",
        "Did you remember to lock the back door?",
        "The population of the town is about twelve thousand people.",
        "He took the early flight to visit his cousin in Denver.",
        "The kitchen table is made of solid oak.",
        "The parking garage fills up quickly on weekday mornings.",
        "She studies chemistry at the state university.",
        "The road to the village is narrow and winding.",
        "Our dentist recommends a checkup every six months.",
        "The annual report includes charts on sales and expenses.",
        "The mail carrier usually comes around eleven o'clock.",
        "The lake freezes over for most of January.",
        "I set my alarm for half past six.",
        "The committee will review the applications next week.",
        "The old barn is painted red with white trim.",
        "He reads the newspaper on the train to work.",
        "The soup needs another ten minutes on low heat.",
        "The museum is free to visit on the first Sunday.",
        "The trail is about three miles long and mostly flat.",
        "We keep the spare key under a flower pot.",
        "The printer needs a new cartridge before the next job.",
        "The farmer sells eggs at the market every Saturday.",
        "Where did you put the receipt for the new lamp?",
        "The building has twelve floors and two elevators.",
    ],
}

EXTENDED = {
    "gratitude": [
        "Thank you for staying with me at the hospital last night.",
        "I'm so grateful that you believed in my idea from the start.",
        "The whole class appreciated the teacher's extra review session.",
        "Thanks for bringing soup when I was sick in bed.",
        "He is thankful every day for his recovery after the crash.",
        "Words cannot express my gratitude for your help this year.",
        "I appreciate your honesty, even if it was hard to hear.",
        "Thank you for answering the phone at three in the morning.",
        "Our neighbors were grateful when we helped clear the fallen tree.",
        "Thanks for the great dinner and the even better company.",
        "She was thankful her train arrived just before the storm.",
        "The volunteers deserve our gratitude for their tireless work.",
        "I truly appreciate you covering for me at the meeting.",
        "You were so patient with my slow progress, thank you.",
        "He felt grateful for the stranger who paid for his coffee.",
        "Thanks, everyone, for coming out to support the team tonight.",
        "The farmers were thankful for the rain after months of drought.",
        "Your quick thinking during the emergency was greatly appreciated.",
        "I want to thank my sister for reading every draft.",
        "We are grateful to live in such a welcoming neighborhood.",
        "Thanks for showing me around the city on my first day.",
        "I'm thankful for the time I got to spend with my grandfather.",
        "The author expressed her gratitude to the editors in the preface.",
        "The hosts appreciate it when guests take their shoes off.",
        "Thank you for the flowers, they brightened up the whole room.",
        "She remained grateful to the teacher who taught her to read.",
        "Someone held the elevator for me this morning, and I was thankful.",
        "I appreciate all the little things you do around the house.",
        "The survivors were deeply thankful to the rescue crew.",
        "Thank you for believing me when no one else did.",
        "My gratitude to you will last for the rest of my life.",
        "He's grateful that his boss let him work from home.",
        "Thanks for your help carrying the couch up three flights of stairs.",
        "We appreciate you choosing our hotel for your stay.",
        "I'm thankful that the doctor caught the problem early.",
        "For such a generous tip, thank you so much.",
        "The kids were grateful for the snow day and the hot chocolate.",
        "You reminded me about the dentist appointment, thank you.",
        "Your donation is appreciated more than you could know.",
        "She felt thankful for the quiet support of her husband.",
        "I'm deeply appreciative of the chance to work on this team.",
        "Thank you for keeping your head while I lost mine.",
        "The fans showed their gratitude with a standing ovation.",
        "He was grateful for the paper map after his phone died.",
        "Thanks for being honest with me about the car's problems.",
        "I appreciate you making dinner after my long shift.",
        "We're thankful our flight landed safely despite the turbulence.",
        "Thank you for speaking up for me in that meeting.",
        "The little boy was grateful for his new pair of shoes.",
        "Thanks for lending me an umbrella in the pouring rain.",
        "I really appreciate the care you put into this report.",
        "She was thankful for a job close to her home.",
        "The museum extended its gratitude to the family who donated the painting.",
        "Thank you for the advice about buying my first house.",
        "I'm grateful for every teacher who pushed me to try harder.",
        "You fixed my bike so quickly, thanks!",
        "The staff appreciated the free lunch on Friday afternoon.",
        "We are thankful for another year of good harvests.",
        "Thank you for waiting while I found my keys.",
        "He smiled, grateful that the long drive was finally over.",
        "Thanks for the tip about the cheaper parking garage.",
        "They appreciated the chance to meet the author in person.",
        "I'm so thankful my daughter made it home before the snow.",
        "Thank you for translating the letter from my grandmother.",
        "She looked at her friends with quiet gratitude.",
        "I'm grateful that you never gave up on me.",
        "Thanks for sharing your recipe for the lemon cake.",
        "The manager appreciated the team's effort during the holidays.",
        "My uncle is thankful for his steady job at the mill.",
        "Thank you for making the new kid feel welcome.",
        "The village remains grateful to the engineers who built the dam.",
        "You called to check on me after the storm, thanks.",
        "I appreciate how carefully you explained the contract to me.",
        "The players were thankful for the loud support from the crowd.",
        "Thank you for keeping my secret all these years.",
        "She is grateful that her children are healthy and safe.",
        "Thanks for walking me home after the party.",
        "We appreciate your understanding during the construction work.",
        "He felt thankful for the peace and quiet of the cabin.",
        "Thank you, doctor, for explaining everything so clearly.",
        "Our gratitude goes to the drivers who delivered supplies in the storm.",
        "I'm grateful for the lessons my father taught me.",
        "Thanks for cleaning up the kitchen before I got home.",
        "The tenants appreciated the landlord fixing the heat so fast.",
        "On such a cold night, I'm thankful for a warm bed.",
        "Thank you for giving me a second chance at this job.",
        "The pilot was grateful for the clear skies on approach.",
        "You brought extra chairs to the picnic, which we appreciated.",
        "Having you here with me today is something I appreciate.",
        "The children were thankful for the free books at the library.",
        "Thank you for the card you sent last week.",
        "She felt grateful for the help of her older brother.",
        "Your quick reply to my question was really appreciated.",
        "The community appreciated the new park by the river.",
        "I'm thankful that we found the missing ring under the sofa.",
        "You welcomed us into your home so warmly, thank you.",
        "We owe a debt of gratitude to our early supporters.",
        "He's grateful his old friend still calls every birthday.",
        "Thanks for trusting me to take care of your plants.",
        "Honestly, your help this week was more appreciated than you know.",
    ],
    "anger": [
        "I'm furious that the landlord entered my apartment without asking.",
        "He was angry about the way the referee handled the match.",
        "The community was outraged by the plan to cut bus routes.",
        "Honestly, it makes me mad when people litter in the park.",
        "She was livid after the mechanic overcharged her again.",
        "The constant spam calls have me thoroughly annoyed.",
        "The parents were enraged that the bully faced no punishment.",
        "I resent the way my coworkers ignore my ideas.",
        "Irate, our neighbor pounded on the door at midnight.",
        "I'm irritated that the train is late for the third time.",
        "Fuming after the sloppy performance, the coach canceled the team's day off.",
        "The unfair ruling infuriated the players and their fans.",
        "His face turned red with rage when he saw the damage.",
        "Angry drivers honked their horns at the broken traffic light.",
        "My roommate is mad that I ate her leftovers.",
        "The employees were furious that their bonuses were canceled.",
        "Nobody had replaced the empty coffee pot, which annoyed her.",
        "Fans were outraged when the band suddenly canceled the tour.",
        "Livid about the errors, the editor pulled the front page story.",
        "Why does this printer make me so angry every single morning?",
        "Irritated by the endless questions, he walked away from the reporter.",
        "The sudden layoffs left the workers angry and confused.",
        "Furious about the rumors at school, she refused to leave her room.",
        "I resent being held responsible for problems I didn't cause.",
        "The crowd erupted in rage after the controversial goal.",
        "The hikers were enraged to find their campsite vandalized.",
        "Dad gets mad when we leave the lights on all night.",
        "The customer was fuming over an error on her bill.",
        "I'm livid that my flight was canceled without any warning.",
        "The teachers grew angry over the cuts to their classroom budgets.",
        "It infuriated him that his password had been stolen again.",
        "The irate shopper threw the receipt onto the counter.",
        "Being ignored in meetings leaves me deeply irritated.",
        "Citizens were outraged by the slow response to the flood.",
        "Don't make me mad by being late again tonight.",
        "Someone had scratched his new bike, and he was angry.",
        "The sailor's rage was obvious as he cursed the broken engine.",
        "My aunt was furious that the caterers never showed up.",
        "I'm annoyed that the store closed early without any notice.",
        "Longtime residents resent the developers buying up the neighborhood.",
        "She was livid when her essay was copied by a classmate.",
        "My little brother gets mad when he loses at cards.",
        "Enraged by the insulting offer, the union voted to strike.",
        "Our neighbors are irritated by the dog barking every night.",
        "The protesters were angry about the rising cost of rent.",
        "He's fuming because someone dented his car in the parking lot.",
        "Readers were outraged by the newspaper's misleading headline.",
        "My mom was furious that I had faked my grades.",
        "The endless paperwork left the nurse irritated and tired.",
        "Infuriated by the theft of her research, the scientist called the police.",
        "I got so angry that I hung up the phone.",
        "The irate caller demanded a full refund for the broken heater.",
        "It makes me furious when people mistreat animals.",
        "My grandfather was mad about the new highway near his farm.",
        "I resent that my sister always gets her way.",
        "The commuters were livid about the sudden fare increase.",
        "She slammed her laptop shut, angry at the rejection email.",
        "Outraged customers complained about the hidden fees in the contract.",
        "The constant delays have left everyone on the project annoyed.",
        "He was enraged to discover his car had been towed.",
        "The hotel gave away our room, and we're furious.",
        "It irritated me that he kept checking his phone during dinner.",
        "The old woman was fuming about the noisy teenagers next door.",
        "The kids got angry when recess was canceled again.",
        "Residents were outraged that the clinic would close next month.",
        "He's mad because his team lost in the final minute.",
        "The manager was livid when the shipment arrived damaged.",
        "A flash of rage crossed his face at the insult.",
        "It annoyed the teacher when students talked during the test.",
        "You shared my secret with everyone, and I'm really angry.",
        "The author was furious about the harsh review of her book.",
        "Why are you getting mad at me for something you did?",
        "Local fishermen were enraged by the oil spill in the bay.",
        "The long hold music left me thoroughly irritated.",
        "I resent having to work every holiday this year.",
        "My father was livid about the broken window in the garage.",
        "The striking workers were angry about unsafe conditions.",
        "She was outraged that the jury ignored the evidence.",
        "He sat in traffic for an hour, fuming the entire time.",
        "Annoyed by the overpriced tickets, the tourists skipped the castle tour.",
        "When I borrowed her dress without asking, my sister was furious.",
        "The fans grew irate as the game was delayed for hours.",
        "The slow internet connection infuriated everyone in the office.",
        "His rage at the betrayal lasted for years.",
        "The mayor was angry that the budget vote failed again.",
        "I'm so mad that I missed the last bus home.",
        "Critics were outraged by the museum's decision to sell the painting.",
        "The baker was irritated when the oven broke during the rush.",
        "The neighbors were livid about the fireworks at two in the morning.",
        "Many players resent the new rules on practice time.",
        "She was enraged by the insulting comments about her family.",
        "The restaurant's slow service left us annoyed and hungry.",
        "Reports handed in late make my boss furious.",
        "The villagers were angry that the new road split their farms.",
        "Shoppers were irate after waiting in line for three hours.",
        "The decision to raise taxes made the whole neighborhood mad.",
        "I'm fuming that someone took my lunch from the fridge again.",
        "The athletes were outraged by the judges' biased scoring.",
        "My teacher was irritated when I forgot my homework again.",
        "She was furious to learn her package had been stolen.",
    ],
    "apology": [
        "I'm sorry I didn't reply to your message sooner.",
        "I apologize for raising my voice during the meeting.",
        "Please forgive me for not visiting you in the hospital.",
        "The company owes its customers a real apology for this mess.",
        "We regret that the concert has been postponed until spring.",
        "He felt sorry for leaving his friend alone at the party.",
        "My apologies for the typo in yesterday's report.",
        "She called her teacher to apologize for cheating on the test.",
        "Sorry for the noise last night, we had a few friends over.",
        "The restaurant offered an apology and a free meal.",
        "I regret not saying goodbye before you moved away.",
        "The clerk kept apologizing for the slow computer system.",
        "Forgive me for asking, but how old is your son?",
        "I'm so sorry about the scratch on your car door.",
        "Our team wants to apologize for the bugs in the latest update.",
        "Sorry, I thought this seat was empty.",
        "We apologize for the interruption to your regular program.",
        "I missed your call this afternoon, and I'm sorry.",
        "The senator made an apology after his offensive remarks.",
        "I regret lending your bike to someone so careless.",
        "Forgive me, I completely lost track of the time.",
        "The pizza place was sorry for the hour-long delivery delay.",
        "She was too proud to apologize to her older sister.",
        "Please accept our apologies for the mix-up with your reservation.",
        "I'm sorry for not believing you when you told me.",
        "The teacher asked the boys to apologize to each other.",
        "He will always regret the way he left his first job.",
        "Sorry to interrupt, but there's a phone call for you.",
        "I hope you will forgive me for losing grandma's ring.",
        "I must apologize for my behavior at the office party.",
        "The bus driver was sorry for leaving without us.",
        "The politician spent the week apologizing for his careless post.",
        "We deeply regret the error in the printed program.",
        "My sincere apologies for missing our appointment on Tuesday.",
        "If I made you feel unwelcome, I'm sorry.",
        "The hospital issued an apology to the patient's family.",
        "He phoned his neighbor to apologise for the loud party.",
        "Sorry I ate the last slice of pizza.",
        "Can you forgive me for forgetting our anniversary?",
        "I regret that our conversation ended so badly.",
        "I took your umbrella by mistake, and I'm sorry.",
        "The manager wants to apologize personally for the billing error.",
        "Apologies for the short notice, but dinner is canceled tonight.",
        "She was sorry she hadn't listened to her father's advice.",
        "The store posted a sign with an apology for the empty shelves.",
        "We regret to announce that the pool will be closed today.",
        "Forgive me for rambling, I'm a little nervous.",
        "I'm sorry for the misunderstanding about the rent.",
        "He finally found the courage to apologize to his father.",
        "Our apologies for the temporary loss of hot water.",
        "I'm truly sorry for how I treated you at school.",
        "They spent the evening apologizing to the guests for the cold food.",
        "I regret taking that job without asking you first.",
        "Sorry, I didn't hear you come in.",
        "She asked her coworker to forgive her for the missed deadline.",
        "The mayor delivered a formal apology to the flooded neighborhoods.",
        "I laughed at your drawing, and I'm sorry.",
        "The pilot came on to apologize for the bumpy ride.",
        "With apologies to the chef, I prefer the soup without salt.",
        "I regret ever doubting your abilities as a leader.",
        "I'm sorry for leaving dirty dishes in the sink again.",
        "The tour guide offered an apology for the canceled boat trip.",
        "Forgive me if I seem distracted today.",
        "We apologize that our office will be closed on Monday.",
        "He was sorry for the awkward silence at dinner.",
        "The student wrote an apology for plagiarizing his essay.",
        "I really regret not calling you back last week.",
        "Sorry for keeping you waiting in the cold.",
        "I want to apologize for ruining your weekend plans.",
        "The bakery sends its apologies for the delayed wedding cake.",
        "We couldn't make it to your housewarming, and we're sorry.",
        "Let me start again, and forgive the mess in here.",
        "My cousin kept apologizing for arriving two hours late.",
        "I said harsh things during our argument, and I regret them.",
        "She said sorry to the librarian for the overdue books.",
        "The software company had to apologize to users for the lost data.",
        "A sincere apology can repair a damaged friendship.",
        "I'm sorry, but I accidentally deleted your photos.",
        "The delay in shipping your order is something we regret.",
        "Forgive me for not writing to you all summer.",
        "I apologise for the late payment on my account.",
        "He was sorry he had spoiled the end of the movie.",
        "My apologies, I didn't realize this was your desk.",
        "The coach said he was sorry for benching the captain.",
        "She never stopped apologizing for the broken vase.",
        "Not helping you when you asked is something I regret.",
        "The theater posted an apology for the canceled performance.",
        "I shouldn't have opened your mail, sorry.",
        "He asked the class to forgive him for the confusing lecture.",
        "I'm calling to apologize for what happened yesterday.",
        "Apologies for the blurry photo, my hands were shaking.",
        "I'm sorry for snapping at you this morning.",
        "We regret any disruption this maintenance may cause.",
        "The kids were sorry they had trampled the flower bed.",
        "I'd like to apologize to everyone I let down this season.",
        "The hotel left a note of apology with a bottle of wine.",
        "Missing my son's first soccer game is my biggest regret.",
        "Sorry about the late reply, my phone was broken.",
        "Will you forgive me for being so selfish?",
        "I borrowed your car without asking, and I'm sorry.",
    ],
    "neutral": [
        "The ferry crosses the bay four times a day.",
        "My uncle repairs bicycles in a shop near the station.",
        "The quarterly budget meeting starts at two o'clock.",
        "She packed a sandwich, an apple, and a bottle of water.",
        "The city installed new streetlights along the main avenue.",
        "Most maple trees lose their leaves in late autumn.",
        "The train was scheduled to arrive at platform three.",
        "He keeps his tools in a metal box in the garage.",
        "The online form asks for your name and address.",
        "Our neighbors painted their fence a light shade of gray.",
        "The restaurant serves breakfast until eleven on weekends.",
        "The students measured the length of the hallway with a tape.",
        "A new grocery store opened on the west side of town.",
        "The conference will take place in a hotel downtown.",
        "She renewed her library card at the front desk.",
        "The mountain road closes during heavy snowfall.",
        "He added a second monitor to his desk at work.",
        "The recipe uses brown sugar instead of white sugar.",
        "The office plants are watered every Monday and Thursday.",
        "Our flight connects through Atlanta before reaching Miami.",
        "The gym offers yoga classes three evenings a week.",
        "The new bridge will shorten the commute by ten minutes.",
        "My grandfather grew up on a dairy farm in Wisconsin.",
        "The instructions are printed on the back of the box.",
        "The bus stop is across the street from the bank.",
        "She wears a watch that belonged to her grandmother.",
        "The tide goes out twice a day along this coast.",
        "How many chairs do we need for the meeting room?",
        "The carpenter measured the doorway before cutting the wood.",
        "The store restocks its shelves early in the morning.",
        "The town hall was built of red brick in 1890.",
        "He usually jogs around the park before breakfast.",
        "The printer is connected to the network by cable.",
        "The school year begins in the last week of August.",
        "They replaced the kitchen faucet with a newer model.",
        "The pharmacy fills prescriptions until nine at night.",
        "Our team uses a shared calendar to schedule meetings.",
        "The orchard grows apples, pears, and a few plums.",
        "The dog is walked twice a day by a neighbor.",
        "The highway exit for the airport is just past the river.",
        "She keeps a spare charger in her backpack.",
        "The lecture covers the history of early printing presses.",
        "Each apartment in the building has its own balcony.",
        "The hardware store sells nails by the pound.",
        "We need to buy more rice and some canned beans.",
        "The clock in the hallway runs five minutes fast.",
        "The new policy applies to all full-time employees.",
        "He switched to a different phone plan last month.",
        "The garden hose is coiled next to the back steps.",
        "The train station has lockers for storing luggage.",
        "The cafe on the corner makes its own bread.",
        "Our electricity bill arrives on the fifteenth of each month.",
        "Visitors must sign in at the front desk.",
        "The painting hangs in the east wing of the gallery.",
        "My cousin is studying to become an electrician.",
        "The recycling truck comes every other Wednesday.",
        "The river is about two hundred feet wide at this point.",
        "Could you send me the file before the meeting?",
        "The farmers harvest wheat at the end of summer.",
        "The spare blankets are on the top shelf of the closet.",
        "The airport is about forty minutes from the city center.",
        "He writes his grocery list on the back of an envelope.",
        "The stadium holds roughly sixty thousand people.",
        "The walls of the kitchen were painted last summer.",
        "The software saves a backup copy every ten minutes.",
        "Our street was repaved during the first week of June.",
        "She teaches math at the middle school near the park.",
        "The old mill now houses a small history museum.",
        "The taxi dropped us off at the north entrance.",
        "The bookshelf holds mostly cookbooks and travel guides.",
        "The concert hall seats about two thousand guests.",
        "He carries a notebook to write down phone numbers.",
        "The recipe makes enough soup for six people.",
        "What time does the hardware store close on Saturday?",
        "The hotel room had two beds and a small desk.",
        "The bike lane runs along the east side of the road.",
        "She takes the subway to her office downtown.",
        "The mechanic rotated the tires during the oil change.",
        "The island can only be reached by boat.",
        "The kids built a small shed for the garden tools.",
        "The forecast shows clear skies for the rest of the week.",
        "Our office switched to a new email system in May.",
        "The lamp on the desk uses a standard bulb.",
        "The documents are stored in a cabinet in the hallway.",
        "The bakery delivers bread to several local restaurants.",
        "My father drives a pickup truck with a long bed.",
        "The class will visit the science museum on Thursday.",
        "The meeting notes were sent to the whole department.",
        "The path to the beach goes through a small pine forest.",
        "He fixed the squeaky hinge with a drop of oil.",
        "The new library branch has a large reading room.",
        "Most of the houses on this street have two floors.",
        "The bus schedule changes at the start of summer.",
        "She labeled each jar with the date and the contents.",
        "The warehouse ships orders five days a week.",
        "Our train stopped briefly at a small station in the hills.",
        "The village has one school, two shops, and a church.",
        "He sorted the mail into piles on the kitchen counter.",
        "The museum gift shop sells postcards and maps.",
        "The water heater is located in the utility closet.",
    ],
}

STEERING_PROMPTS = [
    "The weather report for tomorrow says",
    "I went to the store and",
    "Here is what happened at the meeting:",
    "The train pulled into the station and",
    "According to the latest census data,",
    "The recipe begins by asking you to",
    "On the first day of the conference,",
    "The history of the printing press",
    "My neighbor told me that the new bridge",
    "To assemble the bookshelf, you first",
    "The city council voted on Tuesday to",
    "In the morning, the farmer usually",
    "The museum's new exhibit focuses on",
    "When the bus reached the last stop,",
    "The instructions on the package say",
    "Last summer our family drove to",
    "The main ingredients in this soup are",
    "At the end of the hallway there is",
    "The software update includes changes to",
    "The quarterly report shows that",
    "The path through the forest leads to",
    "Yesterday afternoon, the mail carrier",
    "The school announced that next week",
    "The teacher explained that the old castle",
    "To get to the library from here, you",
    "The new phone has a screen that",
    "During the long drive north, we",
    "The hotel lobby was full of",
    "The river that runs through the town",
    "Before the game started, the players",
    "The garden behind the house has",
    "In the next chapter of the manual,",
    "The scientist placed the sample under the microscope and",
    "The first thing the mechanic checked was",
    "A typical day at the office starts with",
    "The map shows that the nearest gas station",
    "After dinner, the family sat down and",
    "The documentary about ocean currents explains",
    "The architect designed the building so that",
    "Our flight was scheduled to land at",
]

# ---------------------------------------------------------------------------
# Validation and output
# ---------------------------------------------------------------------------

SPLIT_CODES = {"baseline": "b", "extended": "x"}
INTERNAL_BOUNDARY_RE = re.compile(r"[.!?][\"')\]]*\s")


def normalize(text: str) -> str:
    """Case-insensitive, punctuation-insensitive key used for duplicate checks."""
    text = re.sub(r"[^\w\s]", "", text.lower())
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(text.split())


def check_sentence(text: str, emotion: str, where: str, errors: list) -> list:
    """Validate one sentence; return its spans (list of [start, end])."""
    n = word_count(text)
    if not (MIN_WORDS <= n <= MAX_WORDS):
        errors.append(f"{where}: {n} words (need {MIN_WORDS}-{MAX_WORDS}): {text!r}")
    if text != text.strip() or "  " in text:
        errors.append(f"{where}: stray whitespace: {text!r}")
    if not text[:1].isupper():
        errors.append(f"{where}: does not start with a capital letter: {text!r}")
    if text[-1:] not in ".!?":
        errors.append(f"{where}: does not end in . ! or ?: {text!r}")
    if INTERNAL_BOUNDARY_RE.search(text):
        errors.append(f"{where}: looks like more than one sentence: {text!r}")

    if emotion == "neutral":
        for emo, rx in STEM_RE.items():
            m = rx.search(text)
            if m:
                errors.append(f"{where}: neutral sentence has {emo} word {m.group(0)!r}: {text!r}")
        m = STRONG_RE.search(text)
        if m:
            errors.append(f"{where}: neutral sentence has emotional word {m.group(0)!r}: {text!r}")
        return []

    own = list(LEXICON_RE[emotion].finditer(text))
    own_stems = list(STEM_RE[emotion].finditer(text))
    if len(own) != 1:
        errors.append(f"{where}: expected exactly one {emotion} word, found "
                      f"{[m.group(0) for m in own]}: {text!r}")
        return []
    if len(own_stems) != 1:
        errors.append(f"{where}: extra {emotion}-like words "
                      f"{[m.group(0) for m in own_stems]}: {text!r}")
    for emo, rx in STEM_RE.items():
        if emo == emotion:
            continue
        m = rx.search(text)
        if m:
            errors.append(f"{where}: {emotion} sentence has {emo} word {m.group(0)!r}: {text!r}")
    m = own[0]
    start, end = m.start(), m.end()
    word = text[start:end]
    if word.lower() not in LEXICON[emotion] or " " in word:
        errors.append(f"{where}: bad span word {word!r}: {text!r}")
    return [[start, end]]


def span_position(text: str, start: int) -> str:
    """'start' (first word), 'end' (last third of words) or 'middle'."""
    idx = len(text[:start].split())
    n = word_count(text)
    if idx == 0:
        return "start"
    if idx >= (2 * n) / 3:
        return "end"
    return "middle"


def build() -> tuple[dict, list, list]:
    errors: list[str] = []
    records = {"baseline": [], "extended": []}
    seen: dict[str, str] = {}

    for split, source, expected in (("baseline", BASELINE, N_BASELINE),
                                    ("extended", EXTENDED, N_EXTENDED)):
        if tuple(source) != EMOTIONS:
            errors.append(f"{split}: emotions {tuple(source)} != {EMOTIONS}")
        for emotion in EMOTIONS:
            sentences = source.get(emotion, [])
            if len(sentences) != expected:
                errors.append(f"{split}/{emotion}: {len(sentences)} sentences, expected {expected}")
            for i, text in enumerate(sentences, start=1):
                rid = f"{emotion}-{SPLIT_CODES[split]}-{i:03d}"
                spans = check_sentence(text, emotion, rid, errors)
                key = normalize(text)
                if key in seen:
                    errors.append(f"{rid}: duplicate of {seen[key]}: {text!r}")
                else:
                    seen[key] = rid
                records[split].append({
                    "id": rid,
                    "text": text,
                    "emotion": emotion,
                    "spans": spans,
                    "language": "en",
                    "attribute": "emotion",
                })

    # Length balance: neutral vs emotional means, per split.
    for split, recs in records.items():
        neutral = [word_count(r["text"]) for r in recs if r["emotion"] == "neutral"]
        emo = [word_count(r["text"]) for r in recs if r["emotion"] != "neutral"]
        if neutral and emo and abs(statistics.mean(neutral) - statistics.mean(emo)) > 1.0:
            errors.append(f"{split}: neutral mean length {statistics.mean(neutral):.2f} vs "
                          f"emotional {statistics.mean(emo):.2f} differ by more than 1 word")
        # Span positions must be varied: each position bucket >= 10% per emotion.
        for emotion in EMOTIONS[:-1]:
            rs = [r for r in recs if r["emotion"] == emotion and r["spans"]]
            if not rs:
                continue
            buckets = {"start": 0, "middle": 0, "end": 0}
            for r in rs:
                buckets[span_position(r["text"], r["spans"][0][0])] += 1
            for b, c in buckets.items():
                if c < 0.10 * len(rs):
                    errors.append(f"{split}/{emotion}: only {c}/{len(rs)} spans at {b} position")

    # Steering prompts.
    prompts = []
    if len(STEERING_PROMPTS) != N_PROMPTS:
        errors.append(f"prompts: {len(STEERING_PROMPTS)}, expected {N_PROMPTS}")
    prompt_seen: set[str] = set()
    for i, text in enumerate(STEERING_PROMPTS, start=1):
        pid = f"prompt-{i:03d}"
        if text != text.strip() or not text:
            errors.append(f"{pid}: stray whitespace: {text!r}")
        if not (3 <= word_count(text) <= 12):
            errors.append(f"{pid}: {word_count(text)} words, expected a short prefix: {text!r}")
        for emo, rx in STEM_RE.items():
            m = rx.search(text)
            if m:
                errors.append(f"{pid}: prompt has {emo} word {m.group(0)!r}: {text!r}")
        m = STRONG_RE.search(text)
        if m:
            errors.append(f"{pid}: prompt has emotional word {m.group(0)!r}: {text!r}")
        key = normalize(text)
        if key in prompt_seen:
            errors.append(f"{pid}: duplicate prompt: {text!r}")
        prompt_seen.add(key)
        prompts.append({"id": pid, "text": text})

    return records, prompts, errors


def write_jsonl(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def verify_written(path: Path, rows: list, errors: list) -> None:
    """Re-read a written file and check it round-trips and spans still hold."""
    raw = path.read_bytes()
    if b"\r" in raw:
        errors.append(f"{path}: contains carriage returns")
    lines = raw.decode("utf-8").split("\n")
    if lines[-1] != "":
        errors.append(f"{path}: missing trailing newline")
    parsed = [json.loads(line) for line in lines[:-1]]
    if parsed != rows:
        errors.append(f"{path}: contents do not round-trip")
    for r in parsed:
        for s, e in r.get("spans", []):
            if r["text"][s:e].lower() not in LEXICON.get(r["emotion"], []):
                errors.append(f"{path}: {r['id']} span {s}:{e} -> {r['text'][s:e]!r}")


def report(records: dict, prompts: list) -> None:
    paths = {"baseline": BASELINE_PATH, "extended": EXTENDED_PATH}
    for split, recs in records.items():
        print(f"{paths[split].relative_to(ROOT)}: {len(recs)} lines")
        for emotion in EMOTIONS:
            rs = [r for r in recs if r["emotion"] == emotion]
            lens = [word_count(r["text"]) for r in rs]
            pos = {"start": 0, "middle": 0, "end": 0}
            for r in rs:
                if r["spans"]:
                    pos[span_position(r["text"], r["spans"][0][0])] += 1
            pos_s = "" if emotion == "neutral" else (
                f"  span position start/middle/end = {pos['start']}/{pos['middle']}/{pos['end']}")
            print(f"  {emotion:<9} n={len(rs):>3}  words mean={statistics.mean(lens):.2f} "
                  f"min={min(lens)} max={max(lens)}{pos_s}")
    print(f"{PROMPTS_PATH.relative_to(ROOT)}: {len(prompts)} lines")


def main() -> int:
    records, prompts, errors = build()
    if errors:
        for e in errors:
            print("ERROR:", e, file=sys.stderr)
        print(f"{len(errors)} validation error(s); nothing written.", file=sys.stderr)
        return 1
    write_jsonl(BASELINE_PATH, records["baseline"])
    write_jsonl(EXTENDED_PATH, records["extended"])
    write_jsonl(PROMPTS_PATH, prompts)
    post: list[str] = []
    verify_written(BASELINE_PATH, records["baseline"], post)
    verify_written(EXTENDED_PATH, records["extended"], post)
    verify_written(PROMPTS_PATH, prompts, post)
    if post:
        for e in post:
            print("ERROR:", e, file=sys.stderr)
        return 1
    report(records, prompts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
